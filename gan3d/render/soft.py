"""The soft layer: triangles extended by B pixels (eqs 9-11, corrected).

For every triangle T and pixel p with 0 < d(p, T) < B, where d is the screen
distance from p to T and p*(T) the closest point of T:

  z_s(p, T) = z(p*(T), T) + lambda_slope d(p, T)                     (eq 9)
  T is visible at p iff z_s(p, T) < z_c(p)  (z_c = +inf where empty)
  w(p, T) = 1 - d(p, T) / B                                    (eq 11 weight)
  alpha_s(p) = max over visible T of w(p, T)                          (eq 11)
  a_s(p) = sum_T w a(p*(T)) / sum_T w                                 (eq 10)

Departures from the printed equations (renderer-notes.md): eq. 11 prints the
weight as d / B, which would make the image jump at silhouettes; eq. 10 prints
an unweighted mean of depths, where the mean must be of attributes and
weighted by w so that the image stays continuous when a triangle enters or
leaves the set at d = B.

Attributes at p* are interpolated with perspective-correct barycentrics of p*;
with a UV texture the UV is interpolated and the texture sampled per (p, T).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from gan3d.render import rasterize
from gan3d.render import safe_math
from gan3d.render.settings import RenderSettings


def closest_point(p, tri_xy):
  """Distance from p [..., 2] to triangles [..., 3, 2] and barycentrics of p*.

  Returns (d [...], bary [..., 3]): d = 0 and the screen barycentrics of p
  inside the triangle; outside, the nearest of the three edge segments, with
  barycentrics (1 - t, t) on its two end points. Finite with finite gradients
  for degenerate edges.
  """
  bary_in = rasterize.barycentric(p, tri_xy)
  inside = jnp.all(bary_in >= 0, axis=-1)
  d2s, ts = [], []
  for k in range(3):
    a = tri_xy[..., k, :]
    e = tri_xy[..., (k + 1) % 3, :] - a
    t = safe_math.safe_div(jnp.sum((p - a) * e, -1), jnp.sum(e * e, -1))
    t = jnp.clip(t, 0.0, 1.0)
    q = a + t[..., None] * e
    d2s.append(jnp.sum((p - q) ** 2, -1))
    ts.append(t)
  d2 = jnp.stack(d2s, -1)                          # [..., 3]
  t = jnp.stack(ts, -1)
  best = jax.lax.stop_gradient(jnp.argmin(d2, -1))
  one_hot = jax.nn.one_hot(best, 3, dtype=p.dtype)   # edge k: vertices k, k+1
  t_best = jnp.sum(one_hot * t, -1, keepdims=True)
  # Edge k puts (1 - t) on vertex k and t on vertex k + 1.
  bary_edge = one_hot * (1 - t_best) + jnp.roll(one_hot, 1, -1) * t_best
  d_out = safe_math.safe_sqrt(jnp.sum(one_hot * d2, -1))
  d = jnp.where(inside, 0.0, d_out)
  bary = jnp.where(inside[..., None], bary_in, bary_edge)
  return d, bary


def pair_geometry(pix, tri_xy, tri_z, settings: RenderSettings):
  """Per (triangle, window pixel) pair: d [F, P], weights [F, P, 3], z* [F, P]."""
  p = rasterize.pixel_centres(pix, settings.width, tri_xy.dtype)
  d, bary = closest_point(p, tri_xy[:, None])
  weights, z = rasterize.perspective_correct(bary, tri_z[:, None], settings)
  return d, weights, z


def visibility(pix, ok, zbuf, tri_xy, tri_z, settings: RenderSettings):
  """Which pairs belong to the soft layer: 0 < d < B and z_s < z_c. [F, P] bool.

  No gradient: the set is constant almost everywhere; the image is continuous
  where it changes at d = B (w = 0) and at d = 0 (the soft colour equals the
  crisp colour on the edge).
  """
  tri_xy, tri_z = jax.lax.stop_gradient((tri_xy, tri_z))
  d, _, z = pair_geometry(pix, tri_xy, tri_z, settings)
  z_s = z + settings.slope * d
  return ok & (d > 0) & (d < settings.soft_width) & (z_s < zbuf[pix])


def soft_layer(pix, vis, tri_xy, tri_z, tri_attr, settings: RenderSettings,
               texture=None):
  """Soft colour and alpha per pixel (eqs 10-11), differentiable.

  Args: pix, vis [F, P]; tri_xy [F, 3, 2]; tri_z [F, 3]; tri_attr [F, 3, C]
    (UVs when texture [Ht, Wt, Ct] is given).
  Returns (a_s [H*W, Ct], alpha_s [H*W]).
  """
  from gan3d.render import texture as texture_lib  # local: avoids a cycle
  hw = settings.height * settings.width
  d, weights, _ = pair_geometry(pix, tri_xy, tri_z, settings)
  w = jnp.where(vis, 1.0 - d / settings.soft_width, 0.0)         # [F, P]
  attr = jnp.einsum('fpk,fkc->fpc', weights, tri_attr)
  if texture is not None:
    attr = texture_lib.sample_bilinear(texture, attr)
  c = attr.shape[-1]
  acc = jnp.concatenate([w[..., None] * attr, w[..., None]], -1)
  acc = jnp.zeros((hw, c + 1), acc.dtype).at[pix.reshape(-1)].add(
      acc.reshape(-1, c + 1))
  alpha = jnp.zeros((hw,), w.dtype).at[pix.reshape(-1)].max(w.reshape(-1))
  a_s = acc[:, :c] * jnp.where(acc[:, c:] > 0, 1.0 / jnp.where(
      acc[:, c:] > 0, acc[:, c:], 1.0), 0.0)
  return a_s, alpha
