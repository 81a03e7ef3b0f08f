"""Bilinear texture sampling (UV mapping, paper section 5).

UV convention: u right, v down, both in [0, 1] across the whole texture;
texel (i, j) of an [Ht, Wt, C] texture has its centre at
((j + 0.5) / Wt, (i + 0.5) / Ht). Outside the texture the edge texels are
repeated (clamp to edge). Gradients flow to the texture through the bilinear
weights and to the UVs through the weights' dependence on them (exact almost
everywhere: the texel lattice lines are measure zero).
"""
import chex
import jax.numpy as jnp


def sample_bilinear(texture, uv):
  """Samples texture [Ht, Wt, C] at uv [..., 2]; returns [..., C]."""
  chex.assert_rank(texture, 3)
  chex.assert_axis_dimension(uv, -1, 2)
  ht, wt = texture.shape[0], texture.shape[1]
  x = uv[..., 0] * wt - 0.5
  y = uv[..., 1] * ht - 0.5
  x = jnp.clip(jnp.nan_to_num(x), -1.0, wt)
  y = jnp.clip(jnp.nan_to_num(y), -1.0, ht)
  x0 = jnp.floor(x)
  y0 = jnp.floor(y)
  fx = (x - x0)[..., None]
  fy = (y - y0)[..., None]
  x0 = x0.astype(jnp.int32)
  y0 = y0.astype(jnp.int32)
  xa, xb = jnp.clip(x0, 0, wt - 1), jnp.clip(x0 + 1, 0, wt - 1)
  ya, yb = jnp.clip(y0, 0, ht - 1), jnp.clip(y0 + 1, 0, ht - 1)
  flat = texture.reshape(ht * wt, -1)
  def at(yy, xx):
    return flat[yy * wt + xx]
  top = at(ya, xa) * (1 - fx) + at(ya, xb) * fx
  bottom = at(yb, xa) * (1 - fx) + at(yb, xb) * fx
  return top * (1 - fy) + bottom * fy
