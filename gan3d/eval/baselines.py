"""Trivial "generated" shape sets to print beside every 3D metric.

Both are ray-cast analytically at the canonical viewpoint under the camera
of `gan3d.render` (camera on +Z at distance D, unit ball fits the image,
pixel (i, j) centred at (j + 0.5, i + 0.5), depth = D - z):

* `disc`: the flat disc x^2 + y^2 <= radius^2 in the plane z = 0, facing the
  camera (normal +z). Its relief is flat (hollow-face score 0).
* `sphere_cap`: the spherical cap of base radius `radius` in the plane z = 0
  and height `height` towards the camera (apex at (0, 0, height)); a
  convex "average face" with the right relief sign.

The third baseline, the untrained generator, is produced by the caller with
`gan3d.models.generate` on freshly initialised parameters.

Each returns a dict like a rendered sample set, ready for
`geometry.evaluate_geometry`: depth [B, H, W] (`z_far` where empty), normals
[B, H, W, 3] (camera space, unit, 0 where empty), alpha [B, H, W] (0/1).
All samples of a set are identical.
"""

from __future__ import annotations

from typing import Dict

import numpy as np

from gan3d.eval import geometry


def _pack(depth, normals, hit, batch, z_far) -> Dict[str, np.ndarray]:
  depth = np.where(hit, depth, z_far).astype(np.float32)
  normals = np.where(hit[..., None], normals, 0.0).astype(np.float32)
  alpha = hit.astype(np.float32)
  rep = lambda a: np.repeat(a[None], batch, axis=0)
  return {'depth': rep(depth), 'normals': rep(normals), 'alpha': rep(alpha)}


def _check(batch, height, width, camera_distance, radius):
  if batch < 1 or height < 1 or width < 1:
    raise ValueError(f'batch/height/width must be >= 1, got {batch}, {height}, {width}')
  if camera_distance <= 1.0:
    raise ValueError(f'camera_distance must be > 1, got {camera_distance}')
  if not 0.0 < radius <= 1.0:
    raise ValueError(f'radius must be in (0, 1] to fit the unit ball, got {radius}')


def disc(batch: int, height: int, width: int, camera_distance: float,
         radius: float = 0.8, z_far: float = 100.0) -> Dict[str, np.ndarray]:
  """Flat disc baseline (see module docstring)."""
  _check(batch, height, width, camera_distance, radius)
  rays = geometry.pixel_rays(height, width, camera_distance)
  pts = rays * camera_distance
  hit = np.hypot(pts[..., 0], pts[..., 1]) <= radius
  depth = np.full((height, width), camera_distance)
  normals = np.broadcast_to(np.array([0.0, 0.0, 1.0]), (height, width, 3))
  return _pack(depth, normals, hit, batch, z_far)


def sphere_cap(batch: int, height: int, width: int, camera_distance: float,
               radius: float = 0.8, cap_height: float = 0.5,
               z_far: float = 100.0) -> Dict[str, np.ndarray]:
  """Spherical cap baseline (see module docstring)."""
  _check(batch, height, width, camera_distance, radius)
  if not 0.0 < cap_height <= 1.0:
    raise ValueError(f'cap_height must be in (0, 1], got {cap_height}')
  sphere_r = (radius ** 2 + cap_height ** 2) / (2.0 * cap_height)
  centre = np.array([0.0, 0.0, cap_height - sphere_r])
  d = geometry.pixel_rays(height, width, camera_distance).astype(np.float64)
  oc = np.array([0.0, 0.0, camera_distance]) - centre
  a = np.sum(d * d, -1)
  b = 2.0 * d @ oc
  c = oc @ oc - sphere_r ** 2
  disc_ = b * b - 4 * a * c
  t = (-b - np.sqrt(np.maximum(disc_, 0.0))) / (2 * a)   # = depth since d_z = -1
  p = np.array([0.0, 0.0, camera_distance]) + t[..., None] * d
  hit = (disc_ >= 0) & (p[..., 2] >= 0.0)
  normals = (p - centre) / sphere_r
  return _pack(t, normals, hit, batch, z_far)
