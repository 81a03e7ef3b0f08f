"""Triangle setup, the fixed pixel window and the crisp layer (eqs 6-8).

Every triangle is tested against a fixed K x K window of pixel centres that
starts at its bounding box, extended by the soft width B when the soft layer
is on (the soft layer's pairs), and against a smaller K_c x K_c window, K_c =
K - floor(2 B), that starts at its bounding box without the extension (the
z-buffer's pairs: a pixel centre can only be covered by a triangle inside
its own bounding box, and a box that fits the extended window fits this one,
except where the image border clamps the extended box). All arrays have
static shapes [F, K*K] or [F, K_c*K_c] ("pairs"); memory and time grow with
F * K^2 + H * W, never with F * H * W.

Crisp layer (eqs 6-8), for each pixel p over the triangles T covering it:
  z_c(p) = min_T z(p, T), T_c(p) = argmin, a_c(p) = attribute of T_c at p,
  alpha_c(p) = 1 if any triangle covers p.
z(p, T) and a(p, T) are interpolated with perspective-correct barycentrics
(screen-space ones with `perspective_correct=False`). The z-buffer is a
scatter-min over the pairs; ties go to the larger triangle index.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gan3d.render import camera
from gan3d.render import indexing
from gan3d.render import safe_math
from gan3d.render.settings import RenderSettings


def triangle_setup(xy, depth, faces, settings: RenderSettings, finite_vertex):
  """Gathers per-triangle screen data and decides which triangles are drawn.

  Args:
    xy: [V, 2] screen positions (pixels). depth: [V].
    faces: [F, 3] int32. finite_vertex: [V] bool.
  Returns:
    tri_xy [F, 3, 2], tri_z [F, 3] (see `sanitize`), valid [F] bool: every
    vertex finite and in front of the near plane, screen area above
    min_area, and front-facing if culling is on.
  """
  tri_xy = indexing.take(xy, faces)
  tri_z = indexing.take(depth, faces)
  e1 = tri_xy[:, 1] - tri_xy[:, 0]
  e2 = tri_xy[:, 2] - tri_xy[:, 0]
  area2 = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
  valid = (jnp.all(finite_vertex[faces], axis=1)
           & jnp.all(tri_z > settings.near, axis=1)
           & (jnp.abs(area2) > 2 * settings.min_area)
           & jnp.isfinite(area2))
  if settings.cull_backfaces:
    # Counter-clockwise seen from the camera with y up is clockwise in screen
    # space (y down): negative signed area.
    valid = valid & (area2 < 0)
  tri_xy, tri_z = sanitize(tri_xy, tri_z, valid)
  return tri_xy, tri_z, valid


def sanitize(tri_xy, tri_z, valid):
  """Replaces dropped triangles by a harmless off-screen dummy.

  `jnp.where` passes exactly zero cotangent to the unselected branch, so
  nothing non-finite of a dropped triangle reaches any value or gradient.
  """
  dummy_xy = jnp.array([[-8.0, -8.0], [-7.0, -8.0], [-8.0, -7.0]],
                       tri_xy.dtype)
  tri_xy = jnp.where(valid[:, None, None], tri_xy, dummy_xy)
  tri_z = jnp.where(valid[:, None], tri_z, 1.0)
  return tri_xy, tri_z


def crisp_window(settings: RenderSettings) -> int:
  """K_c, the side of the z-buffer's pixel window: K - floor(2 B) (K without
  the soft layer), at least 1.

  The extended box of a triangle holds floor(L + 2B) + 1 >= (floor(L) + 1) +
  floor(2B) pixel centres along an axis where its own box (length L) holds
  floor(L) + 1, so whatever fits the K-window extended fits the K_c-window
  unextended (up to the image border, where the extended box is clamped;
  `window_pixels` counts both).
  """
  return max(1, settings.window - int(math.floor(2.0 * settings.extension)))


def pixel_span(tri_xy, settings: RenderSettings, extension=None):
  """First and last pixel (column, row) covered by each triangle's extended
  bounding box, clamped to the image: ``tri_xy [F, 3, 2] -> first, last
  [F, 2]`` (float; ``last < first`` in some axis when off-screen).

  Pixel c has its centre at c + 0.5; the covered range is
  ``[ceil(lo), floor(hi)]`` with ``lo/hi`` the box extended by
  ``extension`` pixels (default: the soft width, ``settings.extension``; 0
  for the z-buffer's box). The one definition of "window size needed",
  shared by `window_pixels` (overflow count) and
  `gan3d.render.suggest_window`.
  """
  h, w = settings.height, settings.width
  ext = settings.extension if extension is None else extension
  tri_xy = jnp.asarray(tri_xy)
  lo = jnp.min(tri_xy, axis=1) - ext - 0.5       # [F, 2]
  hi = jnp.max(tri_xy, axis=1) + ext - 0.5
  size = jnp.array([w, h], tri_xy.dtype)
  first = jnp.clip(jnp.ceil(jnp.clip(lo, -2.0, size + 2)), 0, size - 1)
  last = jnp.minimum(jnp.floor(jnp.clip(hi, -2.0, size + 2)), size - 1)
  return first, last


def _window(first, k, settings: RenderSettings):
  """[F, 2] first pixel (column, row) -> the K x K window's flat pixel
  indices [F, K*K] int32 (clamped into the image) and in_image [F, K*K]."""
  h, w = settings.height, settings.width
  first = first.astype(jnp.int32)
  offs = jnp.arange(k, dtype=jnp.int32)
  px = first[:, 0, None, None] + offs[None, None, :]   # [F, 1, K]
  py = first[:, 1, None, None] + offs[None, :, None]   # [F, K, 1]
  in_image = (px < w) & (py < h)
  px = jnp.minimum(px, w - 1)
  py = jnp.minimum(py, h - 1)
  f = first.shape[0]
  pix = (py * w + px).reshape(f, k * k)
  return pix, jnp.broadcast_to(in_image, (f, k, k)).reshape(f, k * k)


class WindowPairs(NamedTuple):
  """The discrete start of `render_mesh` (see `window_pairs`).

  tri_xy [F, 3, 2], tri_z [F, 3], valid [F] bool: as `triangle_setup`.
  pix [F, K*K] int32, ok [F, K*K] bool: every triangle's extended window
    (the soft layer's pairs: `soft.visibility`) and which pairs to test
    (triangle drawn, pixel inside the image).
  crisp_pix [F, Kc*Kc] int32, crisp_ok [F, Kc*Kc] bool: the same for the
    unextended window of side Kc = `crisp_window` (the z-buffer's pairs:
    `zbuffer`).
  overflow [] int32: drawn triangles clipped by either window.
  """
  tri_xy: jax.Array
  tri_z: jax.Array
  valid: jax.Array
  pix: jax.Array
  ok: jax.Array
  crisp_pix: jax.Array
  crisp_ok: jax.Array
  overflow: jax.Array


def window_pixels(tri_xy, valid, settings: RenderSettings):
  """Every triangle's K x K extended window and Kc x Kc crisp window.

  Returns (pix [F, K*K] int32 flat pixel index, clamped into the image;
  in_image [F, K*K] bool; crisp_pix [F, Kc*Kc], crisp_in_image [F, Kc*Kc]
  (Kc = `crisp_window`, windows starting at the unextended box); overflow
  [] int32: the number of valid triangles whose extended box holds more
  pixel centres than K along an axis, or whose own box more than Kc).
  """
  k, kc = settings.window, crisp_window(settings)
  tri_xy = jax.lax.stop_gradient(tri_xy)
  first, last = pixel_span(tri_xy, settings)
  first_c, last_c = pixel_span(tri_xy, settings, extension=0.0)
  on_screen = jnp.all(last >= first, axis=1)
  too_big = (jnp.any(last - first + 1 > k, axis=1)
             | jnp.any(last_c - first_c + 1 > kc, axis=1))
  overflow = jnp.sum(valid & on_screen & too_big).astype(jnp.int32)
  pix, in_image = _window(first, k, settings)
  crisp_pix, crisp_in_image = _window(first_c, kc, settings)
  return pix, in_image, crisp_pix, crisp_in_image, overflow


def window_pairs(v_cam, faces, settings: RenderSettings,
                 finite_vertex) -> WindowPairs:
  """The discrete start of `render_mesh`: projection, triangle set-up and
  every triangle's pixel windows, without gradient.

  Args:
    v_cam: [V, 3] camera-space vertices (`camera.to_camera`), non-finite
      ones already replaced (by 0). faces: [F, 3] int32.
    finite_vertex: [V] bool, which vertices were finite.
  Returns:
    `WindowPairs`: the z-buffer (`zbuffer`) takes its crisp pairs, the soft
    layer's visibility (`soft.visibility`) its extended ones.
  """
  xy, depth = camera.project_camera(jax.lax.stop_gradient(v_cam), settings)
  tri_xy, tri_z, valid = triangle_setup(xy, depth, faces, settings, finite_vertex)
  pix, in_image, crisp_pix, crisp_in_image, overflow = window_pixels(
      tri_xy, valid, settings)
  return WindowPairs(tri_xy, tri_z, valid, pix, valid[:, None] & in_image,
                     crisp_pix, valid[:, None] & crisp_in_image, overflow)


def pixel_centres(pix, width, dtype):
  """Flat pixel indices [...] -> pixel centre coordinates (x [...], y [...])."""
  x = (pix % width).astype(dtype) + 0.5
  y = (pix // width).astype(dtype) + 0.5
  return x, y


def corners(tri):
  """[..., 3, D] -> three [..., D] arrays split into components.

  The geometry kernels below work on structure-of-arrays (one array per
  coordinate of each corner) so that XLA fuses them into one vectorised loop;
  small trailing axes (3 corners x 2 coordinates) defeat that on CPU. A tuple
  of corners (e.g. from `gather_corners`) is passed through unchanged.
  """
  if isinstance(tri, tuple):
    return tri
  return tuple(tuple(tri[..., k, c] for c in range(tri.shape[-1]))
               for k in range(3))


def gather_corners(tri, index):
  """Per-triangle rows gathered as structure-of-arrays.

  tri [F, 3, D], index [...] int -> 3 tuples of D arrays [...] (corner k,
  component c is ``tri[index, k, c]``); tri [F, 3] (one value per corner,
  e.g. depths) -> a tuple of 3 arrays [...]. One 1-D gather per component:
  each gradient is then its own [...] array scatter-added into [F], and
  nothing of shape [..., 3, D] is built. Such arrays, and their cotangents,
  are slow on CPU: the backward pass recomputed the whole per-pair chain for
  every trailing element (the largest fusion in a profile of the backward).
  """
  if tri.ndim == 2:
    return tuple(indexing.take(tri[:, i], index) for i in range(tri.shape[1]))
  _, k, d = tri.shape
  return tuple(tuple(indexing.take(tri[:, i, c], index) for c in range(d))
               for i in range(k))


def interpolate_corners(weights, corner_attr):
  """sum_k weights[k] * attr of corner k, with corner_attr from `gather_corners`
  (3 tuples of C arrays [...]) -> [..., C]."""
  chans = [sum(w * corner_attr[k][c] for k, w in enumerate(weights))
           for c in range(len(corner_attr[0]))]
  return jnp.stack(chans, -1)


def barycentric(px, py, tri_xy):
  """Screen-space barycentrics of points (px, py) [...] in triangles.

  tri_xy: [..., 3, 2], broadcastable against px. Returns (b0, b1, b2), all
  >= 0 iff the point is inside (either winding).
  """
  (ax, ay), (bx, by), (cx, cy) = corners(tri_xy)
  area2 = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
  inv = safe_math.safe_div(1.0, area2)
  b0 = ((bx - px) * (cy - py) - (by - py) * (cx - px)) * inv
  b1 = ((cx - px) * (ay - py) - (cy - py) * (ax - px)) * inv
  b2 = ((ax - px) * (by - py) - (ay - py) * (bx - px)) * inv
  return b0, b1, b2


def perspective_correct(bary, tri_z, settings: RenderSettings):
  """Screen barycentrics (b0, b1, b2) -> (attribute weights (3), depth).

  tri_z: [..., 3] broadcastable against the b's, or a tuple of 3 such
  arrays. Perspective-correct: weights
  b_i / z_i normalised, depth 1 / sum(b_i / z_i) (the harmonic interpolation
  that is exact for planar triangles).
  """
  if isinstance(tri_z, tuple):
    z0, z1, z2 = tri_z
  else:
    z0, z1, z2 = tri_z[..., 0], tri_z[..., 1], tri_z[..., 2]
  b0, b1, b2 = bary
  if not settings.perspective_correct:
    return bary, b0 * z0 + b1 * z1 + b2 * z2
  q0, q1, q2 = b0 / z0, b1 / z1, b2 / z2
  s = q0 + q1 + q2
  s = jnp.where(jnp.abs(s) > 1e-12, s, 1e-12)
  inv = 1.0 / s
  return (q0 * inv, q1 * inv, q2 * inv), inv


def zbuffer(pix, tri_xy, tri_z, ok, settings: RenderSettings):
  """Crisp visibility (eqs 6 and 8): z-buffer and winning triangle per pixel.

  Args: pix [F, P], tri_xy [F, 3, 2], tri_z [F, 3], ok [F, P] bool: the
    crisp window's pairs (`WindowPairs.crisp_pix`, `.crisp_ok`; any window
    holding every pixel centre inside each triangle gives the same result).
  Returns (zbuf [H*W] with +inf where empty, tri_id [H*W] int32, -1 empty).
  No gradient: the discrete choices are constant almost everywhere.
  """
  tri_xy, tri_z = jax.lax.stop_gradient((tri_xy, tri_z))
  hw = settings.height * settings.width
  px, py = pixel_centres(pix, settings.width, tri_xy.dtype)
  bary = barycentric(px, py, tri_xy[:, None])
  inside = ok & (bary[0] >= 0) & (bary[1] >= 0) & (bary[2] >= 0)
  _, z = perspective_correct(bary, tri_z[:, None], settings)
  z = jnp.where(inside, z, jnp.inf)
  zbuf = indexing.scatter_min(hw, pix, z, jnp.inf)
  fid = jnp.broadcast_to(jnp.arange(pix.shape[0], dtype=jnp.int32)[:, None],
                         pix.shape)
  win = inside & (z == indexing.take(zbuf, pix))
  tri_id = indexing.scatter_max(hw, pix, jnp.where(win, fid, -1), -1)
  return zbuf, tri_id


def crisp_layer(tri_id, tri_xy, tri_z, tri_attr, settings: RenderSettings):
  """Crisp attributes and depth per pixel (eqs 6-8), differentiable.

  Args: tri_id [H*W] int32 (-1 empty), tri_xy [F, 3, 2], tri_z [F, 3],
    tri_attr [F, 3, C].
  Returns (attr [H*W, C], depth [H*W] (z_far where empty), alpha_c [H*W],
  weights: 3 x [H*W] perspective-correct barycentrics, t [H*W] clamped ids).
  """
  hw = settings.height * settings.width
  covered = tri_id >= 0
  t = jnp.maximum(tri_id, 0)
  px, py = pixel_centres(jnp.arange(hw), settings.width, tri_xy.dtype)
  bary = barycentric(px, py, gather_corners(tri_xy, t))
  weights, z = perspective_correct(bary, gather_corners(tri_z, t), settings)
  weights = tuple(jnp.where(covered, wk, 0.0) for wk in weights)
  attr = interpolate_corners(weights, gather_corners(tri_attr, t))
  depth = jnp.where(covered, z, settings.z_far)
  return attr, depth, covered.astype(tri_xy.dtype), weights, t
