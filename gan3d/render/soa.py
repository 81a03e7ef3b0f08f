"""Structure-of-arrays gathers for the per-pair kernels.

The soft layer and the texture sampler work on long lists of (triangle,
pixel) pairs, [M] arrays with one array per scalar (coordinate, UV, colour
channel). On CPU, XLA runs such elementwise chains faster when every array
is 1-D than when they carry a small trailing axis ([M, 3, 2], [M, 12]): its
fusions then evaluate the producing chain once per trailing element, in the
forward and in the backward pass. `gather_columns` keeps the per-pair code
1-D where rows of a table meet it: table [F, C] rows at index [M] -> C
columns [M] from one gather of [M, C] rows. Its backward pass scatter-adds
each column's cotangent into its own [F] array and stacks the C results.
(Until 2026-11-27 it stacked the C cotangents into [M, C] rows for a single
scatter-add; XLA then fused every column's whole producing chain into the
stacking fusion and evaluated the chain's shared part once per column and
pair, the two largest operations of the renderer's backward pass; per
column it is faster and uses less memory, README "Renderer benchmark".)
The backward rule is jax.numpy, so it can be differentiated again (second
derivatives through the renderer, StyleGAN2's path-length penalty).

(`jax.lax.optimization_barrier` does not stop this recomputation on the XLA
CPU backend of jax 0.10: the compiled program is the same with and without
it, measured 2026-11-26, so it is not used.)
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from gan3d.render import indexing


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _gather_columns(table, index, num_rows):
  del num_rows
  rows = indexing.take(table, index)
  return tuple(rows[..., c] for c in range(table.shape[-1]))


def _gather_columns_fwd(table, index, num_rows):
  return _gather_columns(table, index, num_rows), index


def _gather_columns_bwd(num_rows, index, cts):
  # One scatter-add per column into [F], stacked afterwards (module doc).
  cols = [indexing.scatter_add(num_rows, index, ct) for ct in cts]
  return jnp.stack(cols, axis=-1), None


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

