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

import functools
import math
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp

from gan3d.render import fusion
from gan3d.render import indexing
from gan3d.render import rasterize
from gan3d.render import safe_math
from gan3d.render import soa
from gan3d.render.settings import RenderSettings


def closest_point(px, py, tri_xy):
  """Distance from (px, py) [...] to triangles [..., 3, 2]; barycentrics of p*.

  Returns (d [...], (b0, b1, b2), edge [...] int32): d = 0 and the screen
  barycentrics of p inside the triangle; outside, the nearest of the three
  edge segments (edge k runs from corner k to corner k + 1 mod 3), with
  barycentrics (1 - t, t) on its two end points. Finite with finite gradients
  for degenerate edges.
  """
  bary_in = rasterize.barycentric(px, py, tri_xy)
  inside = (bary_in[0] >= 0) & (bary_in[1] >= 0) & (bary_in[2] >= 0)
  c = rasterize.corners(tri_xy)
  d2s, ts = [], []
  for k in range(3):
    (ax, ay), (bx, by) = c[k], c[(k + 1) % 3]
    ex, ey = bx - ax, by - ay
    t = safe_math.safe_div((px - ax) * ex + (py - ay) * ey, ex * ex + ey * ey)
    t = jnp.clip(t, 0.0, 1.0)
    dx, dy = px - (ax + t * ex), py - (ay + t * ey)
    d2s.append(dx * dx + dy * dy)
    ts.append(t)
  # Nearest edge (ties to the lower index); a discrete, gradient-free choice.
  e0 = (d2s[0] <= d2s[1]) & (d2s[0] <= d2s[2])
  e1 = ~e0 & (d2s[1] <= d2s[2])
  e2 = ~e0 & ~e1
  d2 = jnp.where(e0, d2s[0], jnp.where(e1, d2s[1], d2s[2]))
  # Edge k runs from vertex k to vertex k + 1: (1 - t) on k, t on k + 1.
  zero = jnp.zeros_like(d2)
  b0 = jnp.where(e0, 1 - ts[0], jnp.where(e2, ts[2], zero))
  b1 = jnp.where(e1, 1 - ts[1], jnp.where(e0, ts[0], zero))
  b2 = jnp.where(e2, 1 - ts[2], jnp.where(e1, ts[1], zero))
  d = jnp.where(inside, 0.0, safe_math.safe_sqrt(d2))
  bary = tuple(jnp.where(inside, bi, be)
               for bi, be in zip(bary_in, (b0, b1, b2)))
  edge = jnp.where(e0, 0, jnp.where(e1, 1, 2)).astype(jnp.int32)
  return d, bary, edge


def pair_geometry(pix, tri_xy, tri_z, settings: RenderSettings):
  """Per (triangle, pixel) pair: d [...], 3 x weights [...], z* [...], and
  the nearest edge [...] int32 (see `closest_point`).

  pix [...] flat pixel indices; tri_xy [..., 3, 2] and tri_z [..., 3]
  broadcastable against pix (e.g. [F, 1, 3, 2] against a window [F, P]).
  """
  px, py = rasterize.pixel_centres(pix, settings.width, tri_xy.dtype)
  d, bary, edge = closest_point(px, py, tri_xy)
  weights, z = rasterize.perspective_correct(bary, tri_z, settings)
  return d, weights, z, edge


class DiscretePasses(NamedTuple):
  """Every discrete choice of `render_mesh` (see `discrete_passes`).

  window: `rasterize.WindowPairs` (triangle set-up and both pixel windows).
  zbuf [H*W], tri_id [H*W] int32: the z-buffer (`rasterize.zbuffer`).
  vis [F, K*K] bool, w [F, K*K], edge [F, K*K] int32: the soft layer's
    window pairs (`visibility`); None when ``settings.soft`` is False.
  """
  window: rasterize.WindowPairs
  zbuf: jax.Array
  tri_id: jax.Array
  vis: Optional[jax.Array]
  w: Optional[jax.Array]
  edge: Optional[jax.Array]


def discrete_passes(v_cam, faces, settings: RenderSettings,
                    finite_vertex) -> DiscretePasses:
  """The discrete passes of `render_mesh`, in order: the window pairs
  (`rasterize.window_pairs`), the z-buffer over the crisp window and, with
  ``settings.soft``, the soft layer's visibility over the extended window.

  Args: v_cam [V, 3] camera-space vertices with non-finite ones replaced,
    faces [F, 3] int32, finite_vertex [V] bool (as `rasterize.window_pairs`).
  No gradient flows through any output.
  """
  wp = rasterize.window_pairs(v_cam, faces, settings, finite_vertex)
  zbuf, tri_id = rasterize.zbuffer(wp.crisp_pix, wp.tri_xy, wp.tri_z,
                                   wp.crisp_ok, settings)
  vis = w = edge = None
  if settings.soft:
    vis, w, edge = visibility(wp.pix, wp.ok, zbuf, wp.tri_xy, wp.tri_z,
                              settings)
  return DiscretePasses(wp, zbuf, tri_id, vis, w, edge)


def visibility(pix, ok, zbuf, tri_xy, tri_z, settings: RenderSettings):
  """The discrete structure of the soft layer over the window pairs.

  Returns (vis [F, P] bool, w [F, P], edge [F, P] int32): vis marks the pairs
  with 0 < d < B and z_s < z_c; w is a visible pair's weight 1 - d / B
  (exact to about 5e-7, see below; -1 where not visible); edge is the
  triangle's edge nearest to the pixel (the closest point p* lies on it for
  every visible pair, as d > 0). The pair that supplies alpha_s = max w
  (eq 11) at each pixel is chosen among the compacted pairs
  (`compact_pairs`, `strongest_pairs`).

  No gradient: the sets are constant almost everywhere; the image is
  continuous where `vis` changes at d = B (w = 0) and at d = 0 (the soft
  colour equals the crisp colour on the edge).
  """
  tri_xy, tri_z = jax.lax.stop_gradient((tri_xy, tri_z))
  d, _, z, edge = pair_geometry(pix, tri_xy[:, None], tri_z[:, None],
                                settings)
  z_s = z + settings.slope * d
  vis = (ok & (d > 0) & (d < settings.soft_width)
         & (z_s < indexing.take(zbuf, pix)))
  # Weight and nearest edge of each pair, stored once as one number
  # (see `fusion`): code = 2 * edge + w for visible pairs (w in [0, 1]),
  # -1 otherwise. The weight read back from it is exact to about 5e-7, so
  # "ties" in `strongest_pairs` are weights within that of each other.
  code = jnp.where(vis, 2.0 * edge + (1.0 - d / settings.soft_width), -1.0)
  code = fusion.store_rows(code)
  vis = code >= 0
  edge_f = jnp.where(vis, jnp.floor(0.5 * code), 0.0)
  w = jnp.where(vis, code - 2.0 * edge_f, -1.0)
  return vis, w, edge_f.astype(jnp.int32)


def strongest_pairs(pix, vis, w, settings: RenderSettings):
  """Per pixel, the one visible pair of largest weight (ties to the later
  pair), which supplies alpha_s = max w (eq 11): pix, vis, w [M] -> [M] bool.

  Runs on the compacted pairs (`compact_pairs`), whose order is the window
  pairs' order, so the choice is the one over all window pairs. Where the
  choice changes the two candidates have equal weight: alpha_s is
  continuous.
  """
  hw = settings.height * settings.width
  w = jnp.where(vis, w, -1.0)
  w_max = indexing.scatter_max(hw, pix, w, -1.0)
  cand = vis & (w == indexing.take(w_max, pix))
  pair = jnp.arange(pix.size, dtype=jnp.int32).reshape(pix.shape)
  best = indexing.scatter_max(hw, pix, jnp.where(cand, pair, -1), -1)
  return cand & (pair == indexing.take(best, pix))


def pair_capacity(settings: RenderSettings, num_pairs: int) -> int:
  """Static number of soft-layer pairs kept per image (see `compact_pairs`)."""
  spp = float(settings.soft_pairs_per_pixel)
  if spp <= 0:
    return num_pairs
  cap = int(math.ceil(spp * settings.height * settings.width))
  return min(num_pairs, max(cap, 1))


def compact_pairs(pix, vis, w, edge, settings: RenderSettings):
  """The pairs of the soft layer as a flat list of static length M.

  Only the visible pairs (at B = 1 on a dense mesh: 15-20% of the F x K^2
  window pairs, about 7 per covered pixel, at slope 0; 2-4% at the default
  slope 0.1) carry a soft contribution; the
  differentiable soft layer and its backward pass run on those alone.
  M = `pair_capacity` = ceil(settings.soft_pairs_per_pixel * H * W), at most
  F * K^2 (soft_pairs_per_pixel = 0: all window pairs, no compaction). Pairs
  beyond M, in triangle order, are dropped and counted.

  Args: pix, vis, w, edge [F, P] (window pixels and `visibility` output).
  Returns ((tri [M] int32 triangle, pix [M] int32 pixel, vis [M] bool,
  arg [M] bool: `strongest_pairs` of the kept pairs, edge [M] int32),
  dropped [] int32 visible pairs that did not fit).
  """
  f, p = pix.shape
  (tri, kept_pix, keep, kept_w, kept_edge), dropped = _kept_pairs(
      pix, vis, w, edge, pair_capacity(settings, f * p))
  arg = strongest_pairs(kept_pix, keep, kept_w, settings)
  return (tri, kept_pix, keep, arg, kept_edge), dropped


def _kept_pairs(pix, vis, w, edge, cap):
  """`compact_pairs` before the choice of the strongest pairs: the first
  `cap` visible pairs as flat [M] arrays (tri, pix, vis, w, edge), or all
  F * P window pairs when `cap` holds them, and the number dropped."""
  f, p = pix.shape
  flat_vis = vis.reshape(-1)
  if cap >= f * p:
    tri = jnp.broadcast_to(jnp.arange(f, dtype=jnp.int32)[:, None], (f, p))
    return ((tri.reshape(-1), pix.reshape(-1), flat_vis, w.reshape(-1),
             edge.reshape(-1)), jnp.zeros((), jnp.int32))
  # Stream compaction: the i-th visible pair goes to slot i (i < M). Its
  # rank i is the triangle's offset (an exclusive prefix sum over the F
  # per-triangle counts) plus its rank within the triangle's window (a
  # [P, P] triangular matrix product): much cheaper on CPU than one
  # cumulative sum over all F * P pairs, which XLA lowers to a slow
  # reduce-window (README "Renderer benchmark").
  counts = jnp.sum(vis, axis=1, dtype=jnp.int32)                    # [F]
  start = jax.lax.associative_scan(jnp.add, counts) - counts
  strict_upper = jnp.triu(jnp.ones((p, p), jnp.float32), 1)
  within = jnp.dot(vis.astype(jnp.float32), strict_upper,
                   precision=jax.lax.Precision.HIGHEST).astype(jnp.int32)
  slot = (start[:, None] + within).reshape(-1)
  count = start[-1] + counts[-1]
  dest = jnp.where(flat_vis & (slot < cap), slot, cap)      # cap = dropped
  src = jnp.arange(f * p, dtype=jnp.int32)
  # Kept destinations are distinct, so a max-scatter is a set (and 0 fills
  # the unused slots).
  idx = indexing.scatter_max(cap, dest, src, 0)
  keep = jnp.arange(cap, dtype=jnp.int32) < count
  kept = ((idx // p).astype(jnp.int32), indexing.take(pix.reshape(-1), idx),
          keep, indexing.take(w.reshape(-1), idx),
          indexing.take(edge.reshape(-1), idx))
  return kept, jnp.maximum(count - cap, 0).astype(jnp.int32)


def edge_endpoints(faces, tri, edge):
  """Vertex indices (a [M], b [M]) of edge `edge` of triangle `tri` (edge k
  runs from corner k to corner k + 1 mod 3)."""
  flat = faces.reshape(-1)
  return (indexing.take(flat, 3 * tri + edge),
          indexing.take(flat, 3 * tri + (edge + 1) % 3))


def _edge_setup(px, py, xa, ya, xb, yb):
  ex, ey = xb - xa, yb - ya
  l2 = ex * ex + ey * ey
  t_raw = safe_math.safe_div((px - xa) * ex + (py - ya) * ey, l2)
  t = jnp.clip(t_raw, 0.0, 1.0)
  rx, ry = px - (xa + t * ex), py - (ya + t * ey)
  d = safe_math.safe_sqrt(rx * rx + ry * ry)
  return ex, ey, l2, t_raw, t, rx, ry, d


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def edge_kernel(perspective, px, py, xa, ya, za, xb, yb, zb):
  """Distance d [M] from pixel centres (px, py) [M] to the segments from
  (xa, ya) to (xb, yb) [M], and the attribute weight wa [M] of end point a
  at the closest point p* = a + t (b - a) (end point b has 1 - wa): with
  perspective, the perspective-correct weight for depths za, zb [M] > 0
  (wa = (1 - t) zb / ((1 - t) zb + t za), eq 9's p* of renderer-notes.md),
  else screen-space (wa = 1 - t).

  Its VJP is written out (below) rather than left to autodiff: XLA's CPU
  backend fuses the autodiff chain into each of the ten cotangent columns
  and evaluates it ten times per pair (the largest fusions of the backward
  pass in a profile). The rule is plain jax.numpy, so it can be
  differentiated again.
  """
  _, _, _, _, t, _, _, d = _edge_setup(px, py, xa, ya, xb, yb)
  if perspective:
    wa = (1.0 - t) * zb / ((1.0 - t) * zb + t * za)
  else:
    wa = 1.0 - t
  return d, wa


def _edge_kernel_fwd(perspective, *args):
  return edge_kernel(perspective, *args), args


def _edge_kernel_bwd(perspective, args, cts):
  px, py, xa, ya, za, xb, yb, zb = args
  ct_d, ct_wa = cts
  ex, ey, l2, t_raw, t, rx, ry, d = _edge_setup(px, py, xa, ya, xb, yb)
  # d: the closest point is optimal in t, so only the end points' own motion
  # counts (envelope theorem): dd/da = -(1 - t) n, dd/db = -t n, n = r / d.
  gx = ct_d * safe_math.safe_div(rx, d)
  gy = ct_d * safe_math.safe_div(ry, d)
  ct_xa, ct_ya = -(1.0 - t) * gx, -(1.0 - t) * gy
  ct_xb, ct_yb = -t * gx, -t * gy
  # wa through t (zero where t is clamped) and through the depths.
  if perspective:
    den = (1.0 - t) * zb + t * za
    inv2 = 1.0 / (den * den)
    ct_t = ct_wa * (-za * zb * inv2)
    ct_za = ct_wa * (-(1.0 - t) * t * zb * inv2)
    ct_zb = ct_wa * ((1.0 - t) * t * za * inv2)
  else:
    ct_t = -ct_wa
    ct_za = ct_zb = jnp.zeros_like(ct_wa)
  inner = (t_raw > 0.0) & (t_raw < 1.0) & (l2 > 0.0)
  s = jnp.where(inner, safe_math.safe_div(ct_t, l2), 0.0)
  # t = (p - a).e / |e|^2, e = b - a: dt/db = ((p - a) - 2 t e) / |e|^2,
  # dt/da = -dt/db - e / |e|^2 (t is unchanged when a, b, p move together).
  tbx = (px - xa) - 2.0 * t * ex
  tby = (py - ya) - 2.0 * t * ey
  ct_xb, ct_yb = ct_xb + s * tbx, ct_yb + s * tby
  ct_xa, ct_ya = ct_xa - s * (tbx + ex), ct_ya - s * (tby + ey)
  zeros = jnp.zeros_like(px)
  return zeros, zeros, ct_xa, ct_ya, ct_za, ct_xb, ct_yb, ct_zb


edge_kernel.defvjp(_edge_kernel_fwd, _edge_kernel_bwd)


def soft_layer(pairs, xy, depth, vattr, settings: RenderSettings,
               texture=None):
  """Soft colour and alpha per pixel (eqs 9-11), differentiable.

  Every kept pair is visible with 0 < d < B, so its closest point p* lies on
  the triangle edge found by `visibility`: this computes d, p* and the
  perspective-correct weights of the edge's two end points only (the third
  corner's weight is 0 there), from one row of vertex data per end point.

  Args: pairs = (a [M], b [M], pix [M], vis [M], arg [M]): edge end points
    (vertex indices, see `edge_endpoints`), pixel, and the `visibility` sets
    from `compact_pairs`; xy [V, 2] screen positions; depth [V]; vattr
    [V, C] attributes (UVs when texture [Ht, Wt, Ct] is given).
  Returns (a_s [H*W, Ct], alpha_s [H*W]).
  """
  from gan3d.render import texture as texture_lib  # local: avoids a cycle
  ia, ib, pix, vis, arg = pairs
  hw = settings.height * settings.width
  ca = vattr.shape[-1]
  table = jnp.concatenate([xy, depth[:, None], vattr], -1)    # [V, 3 + C]
  # Slots that hold no visible pair (vis False) get a harmless dummy edge,
  # so that no value of an invalid vertex reaches any value or gradient.
  dummy = (-8.0, -8.0, 1.0) + (0.0,) * ca, (-7.0, -8.0, 1.0) + (0.0,) * ca
  ends = [tuple(jnp.where(vis, col, fill) for col, fill in
                zip(soa.gather_columns(table, idx), dummy[e]))
          for e, idx in enumerate((ia, ib))]
  (xa, ya, za, *attr_a), (xb, yb, zb, *attr_b) = ends
  px, py = rasterize.pixel_centres(pix, settings.width, xy.dtype)
  d, wa = edge_kernel(settings.perspective_correct, px, py, xa, ya, za, xb,
                      yb, zb)
  wb = 1.0 - wa
  w = jnp.where(vis, 1.0 - d / settings.soft_width, 0.0)         # [M]
  attr = tuple(wa * a + wb * b for a, b in zip(attr_a, attr_b))
  # Each of these cotangents feeds all ten end-point columns of the
  # backward pass: store them once (see `fusion`).
  w, *attr = fusion.cotangent_barrier(w, *attr)
  if texture is not None:
    attr = texture_lib.sample_bilinear_columns(texture, *attr)
  # One scatter-add for everything: sum w a, sum w, and alpha_s = w of the
  # `arg` pair (its gradient is then a plain gather). Empty slots add zeros
  # (and keep a NaN texel at the dummy's UV out).
  c = len(attr)
  rows = jnp.stack([jnp.where(vis, w * a, 0.0) for a in attr]
                   + [w, jnp.where(arg, w, 0.0)], axis=-1)
  acc = indexing.scatter_add(hw, pix, rows)
  den = acc[:, c:c + 1]
  a_s = acc[:, :c] * jnp.where(den > 0, 1.0 / jnp.where(den > 0, den, 1.0),
                               0.0)
  return a_s, acc[:, c + 1]
