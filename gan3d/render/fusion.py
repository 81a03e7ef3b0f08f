"""Making XLA compute a value once: stored rows and cotangent barriers.

XLA's CPU backend fuses an elementwise chain into every consumer of its
result and evaluates it again there. The renderer's per-pair values (the
soft layer's visibility and nearest edge, the cotangents of the soft
contributions) have several consumers each, and profiles of the compiled
forward+backward showed their chains, 150-300 operations per element,
evaluated once per consumer: the largest operations of the program.
`jax.lax.optimization_barrier` does not stop this on XLA:CPU (it is removed
before fusion, jax 0.10). A matrix product is never fused into its
consumers, so multiplying by an identity matrix makes XLA compute the chain
once, in its natural shape, and store the result. The product is exact
(``Precision.HIGHEST``; one non-zero term per output) for finite values.

* `store_rows(x)`: ``x [..., P]`` unchanged, without gradient (the discrete
  passes).
* `cotangent_barrier(*arrays)`: identity whose backward stores the arrays'
  cotangents once (differentiable again, for second derivatives).

README "Renderer benchmark" has the measurements.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def _times_identity(x):
  """x [..., K] @ I_K, exact for finite x."""
  return jnp.dot(x, jnp.eye(x.shape[-1], dtype=x.dtype),
                 precision=jax.lax.Precision.HIGHEST)


def store_rows(x):
  """``x [..., P]`` (finite) unchanged and without gradient, computed once:
  a non-finite entry would turn its whole row into NaN."""
  return _times_identity(jax.lax.stop_gradient(x))


@jax.custom_vjp
def cotangent_barrier(*arrays):
  """Identity on arrays of one shape; their cotangents are computed once.

  In the backward pass each soft pair's cotangents (of its weight and its
  interpolated attributes) feed the ten end-point columns; routing them
  through an identity product stores them. A non-finite cotangent spreads to
  the other arrays' cotangents at the same position (they are one row).
  """
  return arrays


def _barrier_fwd(*arrays):
  return cotangent_barrier(*arrays), None


def _barrier_bwd(_, cts):
  y = _times_identity(jnp.stack(cts, axis=-1))
  return tuple(y[..., i] for i in range(len(cts)))


cotangent_barrier.defvjp(_barrier_fwd, _barrier_bwd)
