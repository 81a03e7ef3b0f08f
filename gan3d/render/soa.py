"""Structure-of-arrays helpers for the per-pair kernels, with fused cotangents.

The soft layer and the texture sampler work on long lists of (triangle,
pixel) pairs, [M] arrays with one array per scalar (corner coordinate, UV,
colour channel). On CPU, XLA runs such elementwise chains fast when every
array is 1-D, and slowly when they carry a small trailing axis ([M, 3, 2],
[M, 12]): its fusions then recompute the whole producing chain once per
trailing element, in the forward and, worse, in the backward pass. These
helpers keep the per-pair code 1-D and give the places where rows meet
columns one hand-written vector-Jacobian product each:

  gather_columns   table [F, C] rows at index [M] -> C columns [M]; the
                   backward pass stacks the C cotangents once and does ONE
                   scatter-add of [M, C] rows (autodiff of C separate
                   gathers would do C scatter-adds);
  materialize      identity whose value and cotangent are both materialised
                   (optimization barriers), so that XLA neither recomputes a
                   long chain inside each consumer in the forward pass nor
                   inside each consumer of its cotangent in the backward.

Both backward rules are jax.numpy, so they can be differentiated again
(second derivatives through the renderer, StyleGAN2's path-length penalty).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _gather_columns(table, index, num_rows):
  del num_rows
  rows = table[index]
  return tuple(rows[..., c] for c in range(table.shape[-1]))


def _gather_columns_fwd(table, index, num_rows):
  return _gather_columns(table, index, num_rows), index


def _gather_columns_bwd(num_rows, index, cts):
  cts = jax.lax.optimization_barrier(tuple(cts))
  rows = jnp.stack(cts, axis=-1)
  table_ct = jnp.zeros((num_rows, rows.shape[-1]), rows.dtype).at[index].add(rows)
  return table_ct, None


_gather_columns.defvjp(_gather_columns_fwd, _gather_columns_bwd)


def gather_columns(table, index):
  """``table [F, C]`` gathered at ``index [...]`` (int, in [0, F)) as a tuple
  of C arrays ``[...]``: column c is ``table[index, c]``.

  Gradients flow to ``table`` only (one scatter-add of the stacked
  cotangents); ``index`` is discrete.
  """
  if table.ndim != 2:
    raise ValueError(f'gather_columns needs a [F, C] table, got {table.shape}')
  return _gather_columns(table, jnp.asarray(index, jnp.int32), table.shape[0])


@jax.custom_vjp
def materialize(x):
  """Identity on a pytree of arrays; its value and its cotangent are each
  computed once and stored (see the module docstring)."""
  return jax.lax.optimization_barrier(x)


def _materialize_fwd(x):
  return materialize(x), None


def _materialize_bwd(_, ct):
  return (jax.lax.optimization_barrier(ct),)


materialize.defvjp(_materialize_fwd, _materialize_bwd)


def stack_columns(table_parts):
  """Per-triangle arrays ``[F]`` or ``[F, k]`` -> one table ``[F, C]``
  (columns in order), for `gather_columns`."""
  cols = []
  for part in table_parts:
    cols.append(part[:, None] if part.ndim == 1 else part.reshape(part.shape[0], -1))
  return jnp.concatenate(cols, axis=-1)
