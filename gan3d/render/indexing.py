"""Scatters that stay one flat XLA operation under `jax.vmap`, and the
gather whose transpose they are.

The renderer's hot loops are gathers and scatters over long index lists
(window pairs, soft pairs, texels). Under `jax.vmap`, XLA's scatter gets a
batch dimension, and on the CPU backend the batched scatter is 2-4x slower
than one scatter over the flattened batch (`python -m benchmarks.scatter`:
the renderer's z-buffer scatter of 8 x 516k values; README "Renderer
benchmark"). Each scatter here is a `jax.custom_batching.custom_vmap`
whose batching rule folds the batch into the index
(``b * size + index``) and calls the plain operation once, so a vmapped
renderer runs the same flat scatters as a hand-batched one. Called
without vmap they are the plain operations.

The scatters drop indices outside [0, size), negative ones too (no
wrap-around as in numpy); `take` needs indices in range.

* `take(table, index)`: ``table[index]``, a plain gather (vmap batches it
  as usual: folded into the index, gathers got slower), differentiable in
  ``table``: its VJP is `scatter_add`, whose VJP is `take`, so derivatives of
  any order (reverse mode) keep their scatters flat.
* `scatter_add(size, index, values)`: ``zeros([size, ...]).at[index]
  .add(values)``. Differentiable in ``values``.
* `scatter_min` / `scatter_max`: ``full([size], fill).at[index].min/max``;
  no gradient (the discrete passes only).

Nested vmaps are correct (the outer levels batch the flat operation the
usual way) but only the innermost is flattened. Forward-mode autodiff
(`jax.jvp`) of `take` / `scatter_add` is not supported, like the rest of the
renderer's `custom_vjp`s (they are reverse-mode only).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap


def _batched(x, is_batched, n):
  x = jnp.asarray(x)
  return x if is_batched else jnp.broadcast_to(x, (n,) + x.shape)


def _flat_index(index, n, size):
  """[n, ...] per-item indices into [size] -> [n, ...] indices into the
  flattened [n * size]; out-of-range ones -> n * size (dropped by the
  scatter, so that none lands in a neighbouring item)."""
  off = (jnp.arange(n, dtype=index.dtype) * size).reshape(
      (n,) + (1,) * (index.ndim - 1))
  return jnp.where((index >= 0) & (index < size), index + off, n * size)


# ----------------------------------------------------------------- take ----
# Plain gathers, batched by vmap as usual: folding the batch into the index
# made the renderer's forward slower in an in-process A/B on this machine
# (2026-11-27); only their transposes, scatters, gain from it.
@jax.custom_vjp
def _take(table, index):
  return table.at[index].get(mode='promise_in_bounds',
                             wrap_negative_indices=False)


def _gather_fwd(gather):
  """The forward rule of a gather custom_vjp: it calls the custom_vjp itself
  (not the raw gather), so that an outer differentiation of the rule (second
  derivatives) sees the custom_vjp again; the residual keeps the table's row
  count as a [N, 0] array."""
  def fwd(table, index):
    return gather(table, index), (index, jnp.zeros((table.shape[0], 0),
                                                   table.dtype))
  return fwd


def _take_bwd(res, ct):
  index, shape_probe = res
  return _scatter_add(shape_probe.shape[0], index, ct), None


_take.defvjp(_gather_fwd(_take), _take_bwd)


@jax.custom_vjp
def _take_or_zero(table, index):
  """`_take` reading 0 outside [0, N): the exact transpose of `scatter_add`
  (which drops those entries). A bounds-checked gather is slower, so only
  `scatter_add`'s VJP uses it."""
  return table.at[index].get(mode='fill', fill_value=0,
                             wrap_negative_indices=False)


_take_or_zero.defvjp(_gather_fwd(_take_or_zero), _take_bwd)


def take(table, index):
  """``table [N, ...]`` at integer ``index [...]`` in [0, N) -> ``[..., ...]``
  (out-of-range indices are not checked: XLA clamps them). Differentiable in
  ``table``; the VJP is `scatter_add`."""
  return _take(jnp.asarray(table), jnp.asarray(index, jnp.int32))


# ---------------------------------------------------------- scatter_add ----
def _scatter_add_raw(size, index, values):
  @custom_vmap
  def f(index, values):
    return jnp.zeros((size,) + values.shape[index.ndim:], values.dtype).at[
        index].add(values, mode='drop', wrap_negative_indices=False)

  @f.def_vmap
  def rule(n, batched, index, values):
    ib, vb = batched
    index = _batched(index, ib, n)
    values = _batched(values, vb, n)
    tail = values.shape[index.ndim:]
    flat = _flat_index(index, n, size)
    out = jnp.zeros((n * size,) + tail, values.dtype).at[flat].add(
        values, mode='drop')
    return out.reshape((n, size) + tail), True

  return f(index, values)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _scatter_add(size, index, values):
  return _scatter_add_raw(size, index, values)


def _scatter_add_fwd(size, index, values):
  return _scatter_add(size, index, values), index


def _scatter_add_bwd(size, index, ct):
  return None, _take_or_zero(ct, index)     # dropped entries get 0


_scatter_add.defvjp(_scatter_add_fwd, _scatter_add_bwd)


def scatter_add(size: int, index, values):
  """``zeros([size, ...]).at[index].add(values)`` for ``index [...]`` and
  ``values [..., ...]``; indices outside [0, size) (negative ones too) are
  dropped."""
  return _scatter_add(int(size), jnp.asarray(index, jnp.int32),
                      jnp.asarray(values))


# ------------------------------------------------- scatter_min / _max ----
def _scatter_reduce_raw(op, size, fill, index, values):
  def apply(buf, idx, vals):
    ref = buf.at[idx]
    return (ref.min if op == 'min' else ref.max)(
        vals, mode='drop', wrap_negative_indices=False)

  @custom_vmap
  def f(index, values):
    return apply(jnp.full((size,), fill, values.dtype), index, values)

  @f.def_vmap
  def rule(n, batched, index, values):
    index = _batched(index, batched[0], n)
    values = _batched(values, batched[1], n)
    out = apply(jnp.full((n * size,), fill, values.dtype),
                _flat_index(index, n, size), values)
    return out.reshape(n, size), True

  return f(index, values)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1, 2))
def _scatter_reduce(op, size, fill, index, values):
  return _scatter_reduce_raw(op, size, fill, index, values)


def _scatter_reduce_fwd(op, size, fill, index, values):
  return _scatter_reduce(op, size, fill, index, values), None


def _scatter_reduce_bwd(op, size, fill, res, ct):
  del op, size, fill, res, ct
  return None, None


_scatter_reduce.defvjp(_scatter_reduce_fwd, _scatter_reduce_bwd)


def scatter_min(size: int, index, values, fill):
  """``full([size], fill).at[index].min(values)`` for ``index`` and
  ``values`` of one shape (no gradient); indices outside [0, size) are
  dropped."""
  return _scatter_reduce('min', int(size), fill, jnp.asarray(index, jnp.int32),
                         jax.lax.stop_gradient(jnp.asarray(values)))


def scatter_max(size: int, index, values, fill):
  """``full([size], fill).at[index].max(values)``; see `scatter_min`."""
  return _scatter_reduce('max', int(size), fill, jnp.asarray(index, jnp.int32),
                         jax.lax.stop_gradient(jnp.asarray(values)))
