"""Bilinear texture sampling (UV mapping, paper section 5).

UV convention: u right, v down, both in [0, 1] across the whole texture;
texel (i, j) of an [Ht, Wt, C] texture has its centre at
((j + 0.5) / Wt, (i + 0.5) / Ht). Outside the texture the edge texels are
repeated (clamp to edge). Gradients flow to the texture through the bilinear
weights and to the UVs through the weights' dependence on them (exact almost
everywhere: the texel lattice lines are measure zero).

Implementation: the four texels of a bilinear footprint are fetched with a
single gather from a "quad" texture [Ht + 1, Wt + 1, 4 C] (each texel stores
itself and its right, lower and lower-right neighbours, edge-clamped). One
gather of 4C values is much cheaper on CPU than four gathers of C values, and
its transpose (the texture gradient) is one scatter-add instead of four.
"""
import chex
import jax
import jax.numpy as jnp

from gan3d.render import soa


@jax.custom_vjp
def _quad(texture):
  """[Ht, Wt, C] -> [Ht + 1, Wt + 1, 4C]: texel (y, x) holds the clamped
  texels (y, x), (y, x + 1), (y + 1, x), (y + 1, x + 1) of the padded grid
  whose row/column 0 is the texture's row/column 0 repeated (x = -1)."""
  p = jnp.pad(texture, ((1, 1), (1, 1), (0, 0)), mode='edge')
  return jnp.concatenate([p[:-1, :-1], p[:-1, 1:], p[1:, :-1], p[1:, 1:]],
                         axis=-1)


def _quad_fwd(texture):
  return _quad(texture), None


def _quad_bwd(_, ct):
  """The transpose of `_quad`, written out: autodiff's version (a transpose
  per slice, per pad and for the edge padding) took about 9% of the
  renderer's forward+backward in a profile. Linear jax.numpy, so it can be
  differentiated again."""
  c = ct.shape[-1] // 4
  parts = [ct[..., k * c:(k + 1) * c] for k in range(4)]
  zero = (0, 0)
  # Back onto the padded grid [Ht + 2, Wt + 2, C] (each part is shifted).
  grid = (jnp.pad(parts[0], ((0, 1), (0, 1), zero))
          + jnp.pad(parts[1], ((0, 1), (1, 0), zero))
          + jnp.pad(parts[2], ((1, 0), (0, 1), zero))
          + jnp.pad(parts[3], ((1, 0), (1, 0), zero)))
  # Fold the edge padding back onto the border texels: rows, then columns.
  return (_fold_edges(_fold_edges(grid, 0), 1),)


def _fold_edges(x, axis):
  """[.., n + 2, ..] -> [.., n, ..]: the two outer slices along `axis` added
  onto their neighbours (the transpose of edge padding by one)."""
  take = lambda a, b: jax.lax.slice_in_dim(x, a, b, axis=axis)
  n = x.shape[axis] - 2
  if n == 1:
    return take(0, 1) + take(1, 2) + take(2, 3)
  return jnp.concatenate([take(0, 1) + take(1, 2), take(2, n),
                          take(n, n + 1) + take(n + 1, n + 2)], axis=axis)


_quad.defvjp(_quad_fwd, _quad_bwd)


def sample_bilinear(texture, uv):
  """Samples texture [Ht, Wt, C] at uv [..., 2]; returns [..., C]."""
  chex.assert_rank(texture, 3)
  chex.assert_axis_dimension(uv, -1, 2)
  return jnp.stack(sample_bilinear_columns(texture, uv[..., 0], uv[..., 1]),
                   axis=-1)


def sample_bilinear_columns(texture, u, v):
  """`sample_bilinear` in structure-of-arrays form: texture [Ht, Wt, C] at
  (u [...], v [...]) -> a tuple of C arrays [...].

  All per-sample arithmetic is on 1-D-like arrays (see `soa`): the four
  texels come from one gather of the quad texture, and its gradient is one
  scatter-add of [..., 4C] rows.
  """
  chex.assert_rank(texture, 3)
  ht, wt, c = texture.shape
  x = u * wt - 0.5
  y = v * ht - 0.5
  x = jnp.clip(jnp.nan_to_num(x), -1.0, wt - 1e-3)
  y = jnp.clip(jnp.nan_to_num(y), -1.0, ht - 1e-3)
  x0 = jnp.floor(x)
  y0 = jnp.floor(y)
  fx, fy = x - x0, y - y0
  # Padded coordinates: texel x0 sits at column x0 + 1 of the padded grid.
  idx = (y0.astype(jnp.int32) + 1) * (wt + 1) + (x0.astype(jnp.int32) + 1)
  q = soa.gather_columns(_quad(texture).reshape((ht + 1) * (wt + 1), 4 * c),
                         idx)
  gx, gy = 1 - fx, 1 - fy
  out = []
  for k in range(c):
    t00, t01, t10, t11 = q[k], q[c + k], q[2 * c + k], q[3 * c + k]
    out.append((t00 * gx + t01 * fx) * gy + (t10 * gx + t11 * fx) * fy)
  return tuple(out)
