"""Canonical-view comparison of one fitted mesh with the true one
(`benchmarks.photometric_fit`), the central disc that it and
`benchmarks.canonical_view` average over, and the pixelwise mean shape of
a set, the generator of a checkpoint or its untrained start, and the
split of SIDE's residuals that `benchmarks.side_map` prints
(`benchmarks.mean_shape`, `benchmarks.side_map`, `benchmarks.shape_stats`),
the training faces on the generator's grid (`benchmarks.face_template`),
the offset of the shape biases (`benchmarks.shape_stats`) and the
smoothness prior's cost (`benchmarks.prior_cost`); kept apart from those
scripts so that tests and the scripts can import it without their absl
flags."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gan3d import evaluate as ev
from gan3d import losses
from gan3d import models
from gan3d import render
from gan3d.data import faces
from gan3d.data import synthetic
from gan3d.eval import geometry
from gan3d.render import topology


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


def face_shape_images(config, num: int) -> np.ndarray:
  """The first ``num`` synthetic *training* faces as shape images ``[num, N,
  N, 3]`` (float32): each face's surface (`faces.face_points`, the data
  set's face parameters: the keys of `synthetic.example_keys`) at the shape
  image's pixel centres (u, v in the parameter disc, row 0 at the top, as
  `representation.base_surface`), so that they are meshes of the
  generator's topology (`benchmarks.face_template` writes their mean)."""
  spec = synthetic.spec_from_config(config)
  keys = synthetic.example_keys(int(config.data.synthetic.seed), 'train', np.arange(num))
  n = int(config.resolution)
  c = (jnp.arange(n, dtype=jnp.float32) + 0.5) / n * 2.0 - 1.0
  u, v = jnp.meshgrid(c, -c)

  def one(key):
    p = faces.sample_face_params(jax.random.fold_in(key, 0), dict(spec.face))
    return faces.face_points(p, u, v, spec.disc_radius, spec.fit_radius)

  return np.asarray(jax.jit(jax.vmap(one))(keys), np.float32)


def zero_shape_biases(params: dict, config) -> dict:
  """``params`` with the biases of G_o's toRGB shape channels (the first 3K
  outputs, `models.is_shape_bias`) set to 0, the kernels unchanged
  (`models.scale_shape_outputs` with ``bias_mult`` 0)."""
  return models.scale_shape_outputs(params, 1.0, 3 * int(config.model.shape_pyramid_levels),
                                    bias_mult=0.0)


def bias_offset(vertices, vertices_without_biases) -> list:
  """The mean displacement [x, y, z] (object units) of the vertices
  ``[B, V, 3]`` that G_o's toRGB shape biases cause: the vertices of the
  same latents, noise and viewpoint generated with and without them
  (`zero_shape_biases`). The shape channels are linear in those biases up
  to eq 14 (off in the synthetic config), so this is the offset that those
  3K x (number of toRGB layers) parameters add: the same at every vertex
  with ``model.skip_pad='edge'``; with StyleGAN2's zero padding the same
  over the interior and smaller towards the image border, where the skip
  path's upsampling pads with zeros. x is 0 for a mirror-symmetric shape."""
  d = np.asarray(vertices, np.float64) - np.asarray(vertices_without_biases, np.float64)
  return [round(float(a), 4) for a in d.reshape(-1, 3).mean(0)]


def bend_costs(shape_images) -> dict:
  """``[B, N, N, 3]`` shape images (meshes of the generator's topology) ->
  the smoothness prior's mean cost (``bend``: `losses.normal_consistency`,
  the mean of ``1 - cos`` over adjacent triangles) and the mean angle
  between adjacent triangles (``angle_deg``, degrees), both from
  `losses.adjacent_normal_cosines`; `benchmarks.prior_cost`."""
  s = jnp.asarray(shape_images, jnp.float32)
  n = s.shape[1]
  v = s.reshape(s.shape[0], n * n, 3)           # row-major, as the generator's meshes
  cos = losses.adjacent_normal_cosines(v, jnp.asarray(topology.grid_faces(n), jnp.int32),
                                       jnp.asarray(topology.face_adjacency(n), jnp.int32))
  angle = jnp.degrees(jnp.arccos(jnp.clip(cos, -1.0, 1.0)))
  return {'bend': round(float(jnp.mean(1.0 - cos)), 5),
          'angle_deg': round(float(jnp.mean(angle)), 2)}


def fixed_shape_scores(shape_image, test, config, ecfg, num: int) -> dict:
  """One shape image ``[N, N, 3]`` scored like a generator of ``num`` copies
  of its crisp canonical render (`canonical`) against the ground truth
  ``test`` (`geometry.evaluate_geometry`): SIDE, MAD and Chamfer MMD."""
  n, d = shape_image.shape[0], float(config.render.camera_distance)
  mask, z, normals = canonical(
      topology.shape_image_to_vertices(jnp.asarray(shape_image)),
      jnp.asarray(topology.grid_faces(n), jnp.int32), n, d)
  depth = np.where(mask, d - z, d + 100.0).astype(np.float32)
  gen = repeated(depth, mask, normals.astype(np.float32), num)
  m = geometry.evaluate_geometry(gen, test, jax.random.PRNGKey(int(ecfg.seed)), ecfg.geometry)
  return {k: round(float(m[k]), 4) for k in ('side', 'mad', 'mmd_cd')}


def border_rings(mask: np.ndarray, max_ring: int) -> np.ndarray:
  """``[B, H, W]`` int: 1 on the mask's border (pixels with a 4-neighbour
  off the mask or off the image), 2 on the border of what is left, ...,
  ``max_ring + 1`` for everything deeper; 0 off the mask."""
  mask = np.asarray(mask, bool)
  if mask.ndim != 3:
    raise ValueError(f'mask must be [B, H, W], got {mask.shape}')
  rings = np.zeros(mask.shape, np.int32)
  left = mask.copy()
  for k in range(1, max_ring + 1):
    p = np.pad(left, ((0, 0), (1, 1), (1, 1)))
    inner = left & p[:, :-2, 1:-1] & p[:, 2:, 1:-1] & p[:, 1:-1, :-2] & p[:, 1:-1, 2:]
    rings[left & ~inner] = k
    left = inner
  rings[left] = max_ring + 1
  return rings


def breakdown(r: np.ndarray, valid: np.ndarray, rings: np.ndarray, max_ring: int) -> list:
  """Per ring 1 .. max_ring + 1: its share of sum(r^2) and of the valid
  pixels, and the rms residual there (all over ``valid`` pixels)."""
  total, count = float(np.sum(r[valid] ** 2)), int(valid.sum())
  rows = []
  for k in range(1, max_ring + 2):
    sel = valid & (rings == k)
    sq = float(np.sum(r[sel] ** 2))
    rows.append({'ring': k if k <= max_ring else f'>{max_ring}',
                 'share_sq': round(sq / max(total, 1e-30), 3),
                 'share_px': round(int(sel.sum()) / max(count, 1), 3),
                 'rms': round(float(np.sqrt(sq / max(int(sel.sum()), 1))), 4)})
  return rows


def line_profiles(r: np.ndarray, valid: np.ndarray, band: int) -> tuple[list, list]:
  """Mean residual per row over the ``band`` central columns, and per column
  over the ``band`` central rows (NaN where no valid pixel)."""
  _, h, w = r.shape
  cols = slice((w - band) // 2, (w + band) // 2)
  rows = slice((h - band) // 2, (h + band) // 2)
  with np.errstate(invalid='ignore', divide='ignore'):
    vert = (np.sum(r[:, :, cols] * valid[:, :, cols], axis=(0, 2))
            / np.sum(valid[:, :, cols], axis=(0, 2)))
    horiz = (np.sum(r[:, rows, :] * valid[:, rows, :], axis=(0, 1))
             / np.sum(valid[:, rows, :], axis=(0, 1)))
  return vert.tolist(), horiz.tolist()


def rms_relief_difference(depth_gen, depth_true, valid) -> float:
  """Mean over samples of the rms difference of object z (= camera distance
  - depth) over ``valid``, after removing each sample's mean difference:
  how far, in object units, the relief differs (times sin(yaw) * N / 2:
  about how many pixels a feature shifts differently at that yaw)."""
  dz = np.where(valid, np.asarray(depth_true, np.float64) - np.asarray(depth_gen, np.float64), 0.0)
  n = valid.sum(axis=(1, 2))
  ok = n > 0
  mean = dz.sum(axis=(1, 2))[ok] / n[ok]
  sq = (np.where(valid, dz, 0.0)[ok] - np.where(valid[ok], mean[:, None, None], 0.0)) ** 2
  return float(np.mean(np.sqrt(sq.sum(axis=(1, 2)) / n[ok])))


def row_profile(shape_images: np.ndarray, row: int) -> tuple[list, list]:
  """Mean x and z (object units) over the batch of ``shape_images [B, N, N,
  3]`` along ``row``, from the centre column N/2 to the right edge: the
  side profile of the shapes at that height (does the surface recede at
  its sides?)."""
  v = np.asarray(shape_images, np.float64)
  n = v.shape[1]
  if not 0 <= row < n:
    raise ValueError(f'row {row} outside the shape image of {n} rows')
  half = v[:, row, n // 2:, :].mean(0)
  return ([round(float(a), 3) for a in half[:, 0]],
          [round(float(a), 3) for a in half[:, 2]])
