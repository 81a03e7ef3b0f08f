"""Numerically safe helpers (value and gradient finite everywhere).

In the style of multinerf's `safe_*` functions: every branch of a `jnp.where`
is evaluated, also for masked-out entries, and its gradient is multiplied by
zero, which is still NaN if the branch is NaN. These helpers keep every branch
finite.
"""
import jax.numpy as jnp


def safe_div(num, den, eps=1e-12):
  """num / den, with |den| clamped away from 0 (sign kept, 0 -> +eps)."""
  den = jnp.where(jnp.abs(den) < eps, jnp.where(den < 0, -eps, eps), den)
  return num / den


def safe_sqrt(x, eps=1e-20):
  """sqrt(max(x, eps)): finite gradient at and below 0."""
  return jnp.sqrt(jnp.maximum(x, eps))


def safe_normalize(v, axis=-1, eps=1e-20):
  """v / |v| along `axis`; 0 stays 0 with finite gradient."""
  n2 = jnp.sum(v * v, axis=axis, keepdims=True)
  return v * jnp.where(n2 > eps, 1.0 / safe_sqrt(n2, eps), 0.0)


def finite_or(x, fill):
  """Replaces non-finite entries of x by fill."""
  return jnp.where(jnp.isfinite(x), x, fill)
