"""Structure-of-arrays gathers for the per-pair kernels.

The soft layer and the texture sampler work on long lists of (triangle,
pixel) pairs, [M] arrays with one array per scalar (coordinate, UV, colour
channel). On CPU, XLA runs such elementwise chains faster when every array
is 1-D than when they carry a small trailing axis ([M, 3, 2], [M, 12]): its
fusions then evaluate the producing chain once per trailing element, in the
forward and in the backward pass. `gather_columns` keeps the per-pair code
1-D where rows of a table meet it: table [F, C] rows at index [M] -> C
columns [M], whose backward pass stacks the C cotangents and does one
scatter-add of [M, C] rows (autodiff of C separate gathers would do C
scatter-adds). The backward rule is jax.numpy, so it can be differentiated
again (second derivatives through the renderer, StyleGAN2's path-length
penalty).

(`jax.lax.optimization_barrier` does not stop this recomputation on the XLA
CPU backend of jax 0.10: the compiled program is the same with and without
it, measured 2026-11-26, so it is not used.)
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

