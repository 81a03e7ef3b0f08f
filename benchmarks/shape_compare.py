"""Canonical-view comparison of one fitted mesh with the true one
(`benchmarks.photometric_fit`), the central disc that it and
`benchmarks.canonical_view` average over, and the pixelwise mean shape of
a set and the generator of a checkpoint or its untrained start
(`benchmarks.mean_shape`, `benchmarks.side_map`, `benchmarks.shape_stats`);
kept apart from
those scripts so that tests and the scripts can import it without their
absl flags."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from gan3d import evaluate as ev
from gan3d import models
from gan3d import render
from gan3d.eval import geometry


def centre_disc(n: int) -> np.ndarray:
  """``[n, n]`` bool: pixel centres inside the central disc of radius 0.3 n
  (on the face in every view)."""
  yy, xx = np.mgrid[:n, :n] + 0.5
  return (xx - n / 2) ** 2 + (yy - n / 2) ** 2 < (0.3 * n) ** 2


def canonical(vertices, faces, n: int, camera_distance: float):
  """Crisp canonical render: mask [n, n], object z [n, n], camera-facing normals."""
  settings = render.RenderSettings(height=n, width=n, soft=False, window=8,
                                   camera_distance=camera_distance)
  out = render.render_mesh(vertices, faces, settings=settings, attributes=vertices,
                           viewpoint=jnp.zeros(2))
  normals = out.normals * jnp.where(out.normals[..., 2:3] < 0, -1.0, 1.0)
  return np.asarray(out.mask) > 0, np.asarray(out.image[..., 2]), np.asarray(normals)


def compare(fit, truth) -> dict:
  """Canonical-view errors of ``fit`` against ``truth`` (each `canonical`'s output)."""
  (fm, fz, fn), (gm, gz, gn) = fit, truth
  both = fm & gm
  n = fm.shape[0]
  dz = (fz - gz)[both]
  centre = both & centre_disc(n)
  angle = np.degrees(np.arccos(np.clip(np.sum(fn * gn, -1), -1, 1)))[both]
  return dict(pixels=int(fm.sum()), true_pixels=int(gm.sum()),
              depth_mae=float(np.mean(np.abs(dz - dz.mean()))),
              normal_deg=float(angle.mean()),
              lean=float(fn[both][:, 1].mean()), true_lean=float(gn[both][:, 1].mean()),
              centre=float(fn[centre][:, 1].mean()), true_centre=float(gn[centre][:, 1].mean()))


def mean_shape(depth: np.ndarray, mask: np.ndarray, camera_distance: float):
  """[S, H, W] depth and mask -> mean depth [H, W] over the samples covering
  each pixel, the majority mask [H, W], and normals [H, W, 3] (zero where
  undefined)."""
  m = mask.astype(np.float64)
  cover = m.mean(0)
  d = np.where(mask, depth, 0.0).sum(0) / np.maximum(m.sum(0), 1.0)
  keep = cover > 0.5
  d = np.where(keep, d, camera_distance + 100.0).astype(np.float32)
  normals, nmask = geometry.normals_from_depth(d[None], keep[None], camera_distance)
  normals = np.where(np.asarray(nmask)[..., None], np.asarray(normals), 0.0)[0]
  return d, keep, normals.astype(np.float32)


def repeated(depth, mask, normals, num):
  """One shape (`mean_shape`'s outputs) as a generated set of ``num`` copies."""
  rep = lambda a: np.repeat(a[None], num, axis=0)
  return {'depth': rep(depth), 'alpha': rep(mask.astype(np.float32)), 'normals': rep(normals)}


def generator_at(config, workdir, step) -> tuple:
  """(EMA params, w_avg) of ``workdir``'s checkpoint ``step`` (int or its
  string), or of the untrained generator for ``step == 'init'``."""
  if step == 'init':
    return ev.untrained_generator(config), models.init_w_avg(config)
  g = ev.load_generator(config, workdir, int(step))
  return g['params'], g['w_avg']
