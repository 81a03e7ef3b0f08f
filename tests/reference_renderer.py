"""Slow, independent reference of the paper's renderer (section 5, eqs 6-12).

Written straight from the equations, /work/shared/renderer-notes.md (the
corrected reading) and docs/interfaces.md, without looking at `gan3d.render`.
numpy, float64, dense `[P, T]` (pixel x triangle) arrays: tiny meshes only
(a few dozen triangles, images up to ~32 x 32).

Conventions (docs/interfaces.md):
  * object space x right, y up, z towards the camera; the camera sits on +Z
    at distance D looking at the origin; half field of view t, sin t = 1 / D,
    so the focal length in units of half the image's smaller side is
    1 / tan t = sqrt(D^2 - 1);
  * viewpoint (yaw, pitch) rotates the object: R = R_x(pitch) @ R_y(yaw);
  * depth = D - z of the rotated vertex; screen x right, y down; pixel (i, j)
    has its centre at (j + 0.5, i + 0.5);
  * UV (u right, v down) in [0, 1]; texel (i, j) of an [Ht, Wt] texture sits at
    ((j + 0.5) / Wt, (i + 0.5) / Ht); bilinear sampling, edge clamped.

Per pixel p and triangle T (eqs 6-11 as corrected in renderer-notes.md):
  crisp:  z_c(p) = min over covering T of the (perspective-correct) depth at p,
          T_c = its argmin, a_c = attribute of T_c at p, alpha_c = [covered];
  soft:   for 0 < d(p, T) < B:  z_s = depth of T at p*(T) + slope * d(p, T);
          visible iff z_s < z_c(p);  w = 1 - d / B;
          alpha_s = max w,  a_s = sum w a(p*) / sum w  over visible T;
  eq 12:  image = alpha_s a_s + (1 - alpha_s) (alpha_c a_c + (1 - alpha_c) bcg).
With a UV texture the UVs are interpolated instead of colours and the texture
is sampled at the crisp UV and at every soft UV separately before blending.

Triangles are dropped when a vertex is not finite or has depth <= near, when
their screen area is below `min_area`, and (optionally) when back-facing:
front faces are counter-clockwise seen from the camera in a y-up view, i.e.
clockwise in the y-down screen (negative signed area below).

The function also returns a per-pixel `margin`: the distance of the pixel's
inputs to the nearest discrete decision (coverage edge, depth tie of the crisp
layer, d = B, z_s = z_c). A float32 implementation can only be expected to
agree where the margin is not tiny.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Optional

import numpy as np


# ----------------------------------------------------------------------------
# Camera.
# ----------------------------------------------------------------------------

def rotation_matrix(viewpoint) -> np.ndarray:
  """R = R_x(pitch) @ R_y(yaw), [3, 3], for viewpoint [2] = (yaw, pitch)."""
  if viewpoint is None:
    return np.eye(3)
  yaw, pitch = (float(x) for x in np.asarray(viewpoint, np.float64))
  cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
  r_y = np.array([[cy, 0., sy], [0., 1., 0.], [-sy, 0., cy]])
  r_x = np.array([[1., 0., 0.], [0., cp, -sp], [0., sp, cp]])
  return r_x @ r_y


def focal_pixels(height: int, width: int, camera_distance: float) -> float:
  """Pixels per unit of x / depth: (min(H, W) / 2) / tan t."""
  return 0.5 * min(height, width) * math.sqrt(camera_distance ** 2 - 1.0)


def project(vertices, viewpoint, height, width, camera_distance):
  """Object space [V, 3] -> (screen xy [V, 2] pixels, depth [V], rotated)."""
  v = np.asarray(vertices, np.float64) @ rotation_matrix(viewpoint).T
  depth = camera_distance - v[:, 2]
  f = focal_pixels(height, width, camera_distance)
  with np.errstate(all='ignore'):
    x = 0.5 * width + f * v[:, 0] / depth
    y = 0.5 * height - f * v[:, 1] / depth
  return np.stack([x, y], -1), depth, v


def unproject(xy, depth, height, width, camera_distance) -> np.ndarray:
  """Inverse of `project` for the identity viewpoint: [N, 2], [N] -> [N, 3]."""
  xy = np.asarray(xy, np.float64)
  depth = np.asarray(depth, np.float64) * np.ones(len(xy))
  f = focal_pixels(height, width, camera_distance)
  x = (xy[:, 0] - 0.5 * width) * depth / f
  y = -(xy[:, 1] - 0.5 * height) * depth / f
  return np.stack([x, y, camera_distance - depth], -1)


# ----------------------------------------------------------------------------
# Geometry of a point and a 2D triangle.
# ----------------------------------------------------------------------------

def _cross2(a, b):
  return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def screen_barycentrics(p, tri):
  """Screen-space barycentrics of points p [P, 2] in triangles tri [T, 3, 2].

  Returns [P, T, 3] (any sign; all >= 0 inside).
  """
  a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
  area = _cross2(b - a, c - a)                               # [T]
  q = p[:, None, :]
  l0 = _cross2(b - q, c - q) / area
  l1 = _cross2(c - q, a - q) / area
  l2 = 1.0 - l0 - l1
  return np.stack([l0, l1, l2], -1)


def closest_point(p, tri):
  """Closest point of each triangle to each pixel, in barycentric form.

  Args:
    p: [P, 2] points.  tri: [T, 3, 2] non-degenerate triangles.
  Returns:
    dist [P, T] (0 inside), lam [P, T, 3] screen barycentrics of p*(T),
    edge_dist [P, T] unsigned distance of p to the triangle's boundary.
  """
  inside_lam = screen_barycentrics(p, tri)
  inside = np.all(inside_lam >= 0, axis=-1)
  best_d = np.full(inside.shape, np.inf)
  best_lam = np.zeros(inside.shape + (3,))
  for k in range(3):
    i0, i1 = k, (k + 1) % 3
    a, b = tri[:, i0][None], tri[:, i1][None]                 # [1, T, 2]
    e = b - a
    t = np.sum((p[:, None] - a) * e, -1) / np.sum(e * e, -1)
    t = np.clip(t, 0.0, 1.0)
    q = a + t[..., None] * e
    dk = np.linalg.norm(p[:, None] - q, axis=-1)
    better = dk < best_d
    lam = np.zeros(inside.shape + (3,))
    lam[..., i0] = 1.0 - t
    lam[..., i1] = t
    best_d = np.where(better, dk, best_d)
    best_lam = np.where(better[..., None], lam, best_lam)
  edge_dist = best_d
  dist = np.where(inside, 0.0, best_d)
  lam = np.where(inside[..., None], inside_lam, best_lam)
  return dist, lam, edge_dist


def perspective_weights(lam, depth_tri, perspective_correct=True):
  """Screen barycentrics [P, T, 3] -> (attribute weights [P, T, 3], depth)."""
  if not perspective_correct:
    return lam, np.sum(lam * depth_tri[None], -1)
  inv = lam / depth_tri[None]
  s = np.sum(inv, -1)
  return inv / s[..., None], 1.0 / s


# ----------------------------------------------------------------------------
# Texture.
# ----------------------------------------------------------------------------

def sample_bilinear(texture, uv) -> np.ndarray:
  """Bilinear, edge-clamped sample of texture [Ht, Wt, C] at uv [..., 2]."""
  texture = np.asarray(texture, np.float64)
  ht, wt = texture.shape[:2]
  x = uv[..., 0] * wt - 0.5
  y = uv[..., 1] * ht - 0.5
  x0, y0 = np.floor(x), np.floor(y)
  fx, fy = (x - x0)[..., None], (y - y0)[..., None]
  x0, y0 = x0.astype(int), y0.astype(int)
  def tex(yy, xx):
    return texture[np.clip(yy, 0, ht - 1), np.clip(xx, 0, wt - 1)]
  return ((1 - fy) * ((1 - fx) * tex(y0, x0) + fx * tex(y0, x0 + 1)) +
          fy * ((1 - fx) * tex(y0 + 1, x0) + fx * tex(y0 + 1, x0 + 1)))


# ----------------------------------------------------------------------------
# The renderer.
# ----------------------------------------------------------------------------

@dataclasses.dataclass
class ReferenceOutput:
  image: np.ndarray        # [H, W, C]
  alpha: np.ndarray        # [H, W]
  mask: np.ndarray         # [H, W]
  depth: np.ndarray        # [H, W]
  normals: np.ndarray      # [H, W, 3]
  triangle_id: np.ndarray  # [H, W] int, -1 where empty
  alpha_soft: np.ndarray   # [H, W]
  margin: np.ndarray       # [H, W] distance to the nearest discrete decision
  kept: np.ndarray         # [F] bool, triangles that survived the drops


def _setting(settings, name, default):
  return getattr(settings, name, default) if settings is not None else default


def render_reference(vertices, faces, settings: Any = None, *, attributes=None,
                     uv=None, texture=None, background=None, viewpoint=None,
                     normals_mode: str = 'face',
                     **overrides) -> ReferenceOutput:
  """Renders one mesh, eqs 6-12 (corrected), float64.

  Args:
    vertices: [V, 3] object space.  faces: [F, 3] int.
    settings: anything with the fields of `gan3d.render.RenderSettings`
      (height, width, soft, soft_width, slope, camera_distance, near, z_far,
      cull_backfaces, perspective_correct, min_area); keyword `overrides` win.
    attributes: [V, C], or uv [V, 2] with texture [Ht, Wt, C].
    background: [H, W, C] or None (zeros).
    viewpoint: [2] (yaw, pitch) or None.
    normals_mode: 'face' (geometric normal of T_c) or 'vertex' (area-weighted
      vertex normals interpolated like attributes and renormalised).
  """
  g = lambda n, d: overrides.get(n, _setting(settings, n, d))
  h, w = int(g('height', 16)), int(g('width', 16))
  soft = bool(g('soft', True))
  bw = float(g('soft_width', 1.0))
  slope = float(g('slope', 0.0))
  dist_cam = float(g('camera_distance', 4.0))
  near = float(g('near', 1e-2))
  z_far = float(g('z_far', 1e4))
  cull = bool(g('cull_backfaces', False))
  persp = bool(g('perspective_correct', True))
  min_area = float(g('min_area', 1e-10))

  vertices = np.asarray(vertices, np.float64)
  faces = np.asarray(faces, np.int64).reshape(-1, 3)
  if (attributes is None) == (texture is None):
    raise ValueError('give exactly one of attributes or (uv, texture)')
  if texture is not None:
    vals = np.asarray(uv, np.float64)
    channels = np.asarray(texture).shape[-1]
  else:
    vals = np.asarray(attributes, np.float64)
    channels = vals.shape[-1]
  bg = (np.zeros((h, w, channels)) if background is None
        else np.asarray(background, np.float64))

  xy, depth, rot = project(vertices, viewpoint, h, w, dist_cam)
  tri_xy = xy[faces]                                          # [F, 3, 2]
  tri_z = depth[faces]                                        # [F, 3]
  with np.errstate(all='ignore'):
    signed = _cross2(tri_xy[:, 1] - tri_xy[:, 0], tri_xy[:, 2] - tri_xy[:, 0])
    finite = (np.all(np.isfinite(rot[faces]), axis=(1, 2)) &
              np.all(np.isfinite(tri_xy), axis=(1, 2)))
    keep = finite & np.all(tri_z > near, -1)
    keep &= np.abs(np.where(finite, signed, 0.0)) * 0.5 >= max(min_area, 1e-300)
    if cull:
      keep &= signed < 0           # clockwise on screen (y down) = front
  idx = np.nonzero(keep)[0]

  jj, ii = np.meshgrid(np.arange(w), np.arange(h))
  pix = np.stack([jj.ravel() + 0.5, ii.ravel() + 0.5], -1)   # [P, 2]
  npix = len(pix)

  # Per-vertex normals (object space, area-weighted), rotated to the camera.
  fn_all = np.zeros((len(faces), 3))
  if len(idx):
    v3 = rot[faces[idx]]
    fn_all[idx] = np.cross(v3[:, 1] - v3[:, 0], v3[:, 2] - v3[:, 0])
  vn = np.zeros_like(rot)
  np.add.at(vn, faces[idx].ravel(), np.repeat(fn_all[idx], 3, axis=0))

  if len(idx) == 0:
    z_c = np.full(npix, z_far)
    return ReferenceOutput(
        image=bg.copy(), alpha=np.zeros((h, w)), mask=np.zeros((h, w)),
        depth=z_c.reshape(h, w), normals=np.zeros((h, w, 3)),
        triangle_id=-np.ones((h, w), int), alpha_soft=np.zeros((h, w)),
        margin=np.full((h, w), np.inf), kept=keep)

  txy, tz = tri_xy[idx], tri_z[idx]
  tvals = vals[faces[idx]]                                    # [T, 3, C']
  dist, lam, edge_dist = closest_point(pix, txy)              # [P, T]
  bary, zint = perspective_weights(lam, tz, persp)            # [P, T, 3], [P, T]
  vals_at = np.einsum('ptk,tkc->ptc', bary, tvals)            # [P, T, C']

  # Crisp layer, eqs 6-8.
  covered = dist == 0.0
  zc_pt = np.where(covered, zint, np.inf)
  tc = np.argmin(zc_pt, -1)                                   # [P]
  any_cov = np.any(covered, -1)
  z_c = np.where(any_cov, zc_pt[np.arange(npix), tc], z_far)
  alpha_c = any_cov.astype(np.float64)
  crisp_vals = vals_at[np.arange(npix), tc]                   # [P, C']

  # Soft layer, eqs 9-11 corrected.
  if soft:
    cand = (dist > 0) & (dist < bw)
    z_s = zint + slope * dist
    vis = cand & (z_s < z_c[:, None])
    wgt = np.where(vis, 1.0 - dist / bw, 0.0)                 # [P, T]
    alpha_s = wgt.max(-1)
    wsum = wgt.sum(-1)
  else:
    cand = np.zeros_like(covered)
    vis = cand
    wgt = np.zeros(dist.shape)
    alpha_s = np.zeros(npix)
    wsum = np.zeros(npix)

  if texture is not None:
    col_c = sample_bilinear(texture, crisp_vals)              # [P, C]
    col_pt = sample_bilinear(texture, vals_at)                # [P, T, C]
  else:
    col_c, col_pt = crisp_vals, vals_at
  safe = np.where(wsum > 0, wsum, 1.0)
  col_s = np.einsum('pt,ptc->pc', wgt, col_pt) / safe[:, None]
  col_c = np.where(any_cov[:, None], col_c, 0.0)

  bgf = bg.reshape(npix, -1)
  a_s, a_c = alpha_s[:, None], alpha_c[:, None]
  image = a_s * col_s + (1 - a_s) * (a_c * col_c + (1 - a_c) * bgf)
  alpha = alpha_s + (1 - alpha_s) * alpha_c

  # Normals of the crisp layer (camera space = rotated object space).
  if normals_mode == 'face':
    n = fn_all[idx][tc]
  elif normals_mode == 'vertex':
    n = np.einsum('pk,pkc->pc', bary[np.arange(npix), tc], vn[faces[idx]][tc])
  else:
    raise ValueError(normals_mode)
  n = n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-300)
  n = np.where(any_cov[:, None], n, 0.0)
  tid = np.where(any_cov, idx[tc], -1)

  # Margin to the discrete decisions.
  margin = np.min(edge_dist, -1)                              # coverage
  if len(idx) > 1:
    zs = np.sort(zc_pt, -1)
    with np.errstate(invalid='ignore'):
      gap = np.where(np.isfinite(zs[:, 1]), zs[:, 1] - zs[:, 0], np.inf)
    margin = np.minimum(margin, gap)
  if soft:
    near_b = np.where(dist > 0, np.abs(dist - bw), np.inf)
    margin = np.minimum(margin, near_b.min(-1))
    tie = np.where(cand, np.abs(z_s - z_c[:, None]), np.inf)
    margin = np.minimum(margin, tie.min(-1))
    # Ties of the max in alpha_s are continuous in value: no margin needed.

  r = lambda x, *s: x.reshape(h, w, *s)
  return ReferenceOutput(
      image=r(image, -1), alpha=r(alpha), mask=r(alpha_c), depth=r(z_c),
      normals=r(n, 3), triangle_id=r(tid), alpha_soft=r(alpha_s),
      margin=r(margin), kept=keep)


# ----------------------------------------------------------------------------
# Random test scenes.
# ----------------------------------------------------------------------------

def random_scene(seed: int, num_triangles: int = 16, size: float = 0.5,
                 spread: float = 1.15, channels: int = 3):
  """Independent random triangles: overlaps, silhouettes, off-screen parts.

  Returns dict(vertices [3T, 3], faces [T, 3], attributes [3T, C],
  uv [3T, 2] in [0, 1], texture [6, 5, C], background).
  """
  rng = np.random.default_rng(seed)
  centres = np.concatenate([
      rng.uniform(-spread, spread, (num_triangles, 2)),
      rng.uniform(-0.8, 0.8, (num_triangles, 1))], -1)
  offsets = rng.normal(0.0, size, (num_triangles, 3, 3))
  vertices = (centres[:, None] + offsets).reshape(-1, 3)
  faces = np.arange(3 * num_triangles).reshape(-1, 3)
  return dict(
      vertices=vertices, faces=faces,
      attributes=rng.uniform(-1, 1, (3 * num_triangles, channels)),
      uv=rng.uniform(0, 1, (3 * num_triangles, 2)),
      texture=rng.uniform(-1, 1, (6, 5, channels)),
      background_fn=lambda h, w: np.random.default_rng(seed + 7919).uniform(
          -1, 1, (h, w, channels)))
