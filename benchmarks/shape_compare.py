"""Canonical-view comparison of one fitted mesh with the true one
(`benchmarks.photometric_fit`), and the central disc that it and
`benchmarks.canonical_view` average over; kept apart from those scripts so
that tests and both scripts can import it without their absl flags."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from gan3d import render


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
