r"""Orientation and normals of generated shapes at the canonical view.

A diagnostic beside `launch.evaluate` (about a minute per checkpoint): for
``--num`` samples of the EMA generator (the evaluation's latents, noise on)
and as many ground-truth test shapes, all rendered at yaw = pitch = 0, it
prints per set

  mean_normal  the mean over samples of the mask-averaged camera-space normal
               (x right, y up, z towards the camera);
  tilt         mean angle (degrees) between each sample's mask-averaged normal
               and +z: how far the shapes look away from the camera;
  tilt_x/y_std spread of the normal's x / y components over the samples;
  pixels       mean covered pixels (the crisp coverage of both: for the
               ground truth its canonical depth's mask, not the smaller
               mask of pixels with normals, whose 4 neighbours are all on
               the face; before 2026-11-29 night this reported the latter,
               about 423 pixels against 492 for the faces' coverage);
  centre_normal  mean_normal inside the central disc (r < 0.3 N) only;
  pixels_by_yaw  mean covered pixels of the real test photos and of the
               generated images (at their own viewpoints, as in training) in
               three equal bins of |yaw| up to the prior's largest: a head
               whose sides recede shows more of itself turned than from the
               front, a wide flat shell less, at the same mean;
  shadowed     the fraction of covered pixels in attached shadow (n . l <= 0)
               under the data's lights (`shadowed`, `data_lights`);
  mesh_lean    (generated only) the mean `losses.mesh_lean` of the meshes,
               the quantity that ``train.lean_weight`` penalises;

and the angle between the generated and ground-truth *mean* normal maps over
the pixels both cover; and ``image_centre``: the brightness of the real test
images and of the generated ones (at the prior's viewpoints and lights, as
in training) inside the central disc of radius 0.3 N (on the face in every
view): its mean (images in [-1, 1]), its spread over images and top half
minus bottom half. With ``--out`` it writes a PNG: the mean normal maps
(ground truth, generated, |coverage difference|) above 8 ground-truth and 8
generated normal maps.

Run:
  python -m benchmarks.canonical_view --config=configs/synthetic.py \
      --workdir=/work/runs/s2/default --step=1500 --out=/tmp/view.png
(``--step=0`` with a workdir that has no step-0 checkpoint: use
``--untrained``.)
"""
from __future__ import annotations

import json

from absl import app
from absl import flags
import jax
from ml_collections import config_flags
import numpy as np

from benchmarks.shape_compare import centre_disc
from gan3d import evaluate as ev
from gan3d import models

_CONFIG = config_flags.DEFINE_config_file('config', 'configs/synthetic.py', 'run config')
_WORKDIR = flags.DEFINE_string('workdir', None, 'run directory (checkpoints/)')
_STEP = flags.DEFINE_integer('step', None, 'checkpoint step (default: latest)')
_UNTRAINED = flags.DEFINE_bool('untrained', False, "the run's untrained generator instead")
_NUM = flags.DEFINE_integer('num', 64, 'samples and ground-truth shapes')
_OUT = flags.DEFINE_string('out', None, 'optional PNG of the normal maps')


def orientation(normals: np.ndarray, mask: np.ndarray,
                coverage: np.ndarray | None = None) -> dict:
  """normals [B, H, W, 3], mask [B, H, W] -> the numbers of the docstring;
  ``pixels`` counts ``coverage`` [B, H, W] where given (the ground truth's
  normals cover less than its surface), else ``mask``."""
  m = mask[..., None].astype(np.float64)
  mean_n = (normals * m).sum((1, 2)) / np.maximum(m.sum((1, 2)), 1.0)
  tilt = np.degrees(np.arctan2(np.hypot(mean_n[:, 0], mean_n[:, 1]), mean_n[:, 2]))
  return dict(mean_normal=[round(float(v), 4) for v in mean_n.mean(0)],
              tilt=round(float(tilt.mean()), 2),
              tilt_x_std=round(float(mean_n[:, 0].std()), 4),
              tilt_y_std=round(float(mean_n[:, 1].std()), 4),
              pixels=round(float((mask if coverage is None else coverage).sum((1, 2)).mean()), 1))


def centre_brightness(images: np.ndarray) -> dict:
  """images [B, N, N, 3] in [-1, 1] -> mean grey level inside the central
  disc of radius 0.3 N, its spread over the images (the standard deviation
  of each image's disc mean), and its top half's mean minus its bottom
  half's."""
  n = images.shape[1]
  disc = centre_disc(n)
  yy = np.mgrid[:n, :n][0] + 0.5
  grey = np.asarray(images, np.float64).mean(-1)
  top, bottom = disc & (yy < n / 2), disc & (yy >= n / 2)
  return dict(mean=round(float(grey[:, disc].mean()), 4),
              std=round(float(grey[:, disc].mean(1).std()), 4),
              top_minus_bottom=round(float(grey[:, top].mean() - grey[:, bottom].mean()), 4))


def shadowed(normals: np.ndarray, mask: np.ndarray, lights: np.ndarray) -> float:
  """Fraction of covered pixels in attached shadow (n . l <= 0), averaged
  over the lights ``[L, 3]``: normals [B, H, W, 3], mask [B, H, W]. There
  the Lambert factor is the ambient alone and gives the normal no gradient."""
  m = mask.astype(np.float64)
  dots = np.einsum('bhwc,lc->lbhw', normals, lights)
  return round(float(((dots <= 0) * m[None]).sum() / max(m.sum() * len(lights), 1.0)), 4)


def data_lights(config, num: int = 256) -> np.ndarray:
  """``[num, 3]`` directions of the synthetic data set's light family
  (camera frame; stratified over the cone's projected disc)."""
  from gan3d.render import camera  # pylint: disable=g-import-not-at-top
  syn = config.data.synthetic
  k = int(np.sqrt(num))
  u1, u2 = np.meshgrid((np.arange(k) + 0.5) / k, (np.arange(k) + 0.5) / k)
  return np.asarray(camera.light_cone(u1.ravel(), u2.ravel(),
                                      np.radians(float(syn.light_spread_deg)),
                                      np.radians(float(syn.get('light_tilt_deg', 0.0)))),
                    np.float64)


def pixels_by_yaw(mask: np.ndarray, viewpoint: np.ndarray, max_yaw_deg: float,
                  bins: int = 3) -> list:
  """Mean covered pixels of ``mask [B, H, W]`` per bin of |yaw| (``viewpoint
  [B, 2]`` radians): ``bins`` equal bins of [0, max_yaw_deg] (the last one
  closed); None for an empty bin."""
  yaw = np.abs(np.degrees(np.asarray(viewpoint)[:, 0]))
  idx = np.minimum((yaw / max_yaw_deg * bins).astype(int), bins - 1)
  px = np.asarray(mask).reshape(len(yaw), -1).sum(1)
  return [round(float(px[idx == i].mean()), 1) if np.any(idx == i) else None
          for i in range(bins)]


def mean_map(normals: np.ndarray, mask: np.ndarray):
  m = mask[..., None].astype(np.float64)
  return (normals * m).sum(0) / np.maximum(m.sum(0), 1.0), mask.mean(0)


def main(argv):
  del argv
  from gan3d.data import pipeline  # pylint: disable=g-import-not-at-top
  from gan3d.eval import geometry  # pylint: disable=g-import-not-at-top
  c = _CONFIG.value
  if c.data.name != 'synthetic':
    raise app.UsageError('canonical_view needs the synthetic data set (ground truth)')
  ecfg = ev.resolve_eval_config(c, num_samples=_NUM.value)
  gt = pipeline.load_synthetic_ground_truth(c, split='test', num=_NUM.value)
  ref = geometry.ground_truth_views(gt, ecfg.geometry)
  if _UNTRAINED.value:
    params, w_avg, step = ev.untrained_generator(c), models.init_w_avg(c), 0
  else:
    if not _WORKDIR.value:
      raise app.UsageError('--workdir is required (or --untrained)')
    g = ev.load_generator(c, _WORKDIR.value, _STEP.value)
    params, w_avg, step = g['params'], g['w_avg'], g['step']
  s = ev.generate_eval_set(params, w_avg, c, ecfg, jax.random.PRNGKey(int(ecfg.seed)),
                           progress=False)
  g_mask = np.asarray(s['alpha']) > ecfg.geometry.alpha_threshold
  g_n = np.asarray(s['normals'], np.float64)
  r_n, r_mask = np.asarray(ref['normals'], np.float64), np.asarray(ref['normal_mask'])
  # Coverage: the ground truth's full mask (r_mask has normals only where
  # all 4 neighbours are on the face, about one pixel less all round).
  r_full = np.asarray(ref['mask'])
  out = {'step': step, 'ground_truth': orientation(r_n, r_mask, coverage=r_full),
         'generator': orientation(g_n, g_mask)}
  # The lean that train.lean_weight penalises (mean unit face normal y).
  out['generator']['mesh_lean'] = round(float(np.mean(s['lean'])), 4)
  # The same normal statistics inside the central disc (r < 0.3 N) only:
  # the face's middle, apart from its outline.
  centre = centre_disc(g_mask.shape[1])
  for key, n_, m_ in (('ground_truth', r_n, r_mask), ('generator', g_n, g_mask)):
    inner = orientation(n_, m_ & centre)
    out[key]['centre_normal'] = inner['mean_normal']
  lights = data_lights(c)
  out['ground_truth']['shadowed'] = shadowed(r_n, r_mask, lights)
  out['generator']['shadowed'] = shadowed(g_n, g_mask, lights)
  out['image_centre'] = {
      'real': centre_brightness(ev.load_real_images(c, 'test', _NUM.value)),
      'generator': centre_brightness(s['image'])}
  max_yaw = float(np.max(np.abs(c.viewpoint.yaw_range_deg)))
  out['pixels_by_yaw'] = {
      'bins_deg': [round(max_yaw * i / 3, 1) for i in range(4)],
      'real': pixels_by_yaw(gt['mask'], gt['viewpoint'], max_yaw),
      'generator': pixels_by_yaw(s['view_mask'] > 0.5, s['viewpoint'], max_yaw)}
  g_avg, g_cov = mean_map(g_n, g_mask)
  r_avg, r_ncov = mean_map(r_n, r_mask)
  r_cov = r_full.mean(0)
  both = (g_cov > 0.5) & (r_ncov > 0.5)
  # The evaluation's MAD of the two mean maps, over the pixels both cover.
  out['mean_map_angle'] = (
      round(float(geometry.mad(g_avg[None], r_avg[None], both[None])[0]), 2)
      if both.any() else None)
  print(json.dumps(out))
  if _OUT.value:
    from gan3d.export import sheets  # pylint: disable=g-import-not-at-top
    # Images in [-1, 1]: normals as they are ((n + 1) / 2 in RGB), coverage
    # difference d in [0, 1] as 2 d - 1 (black = same coverage).
    top = np.concatenate([r_avg, g_avg,
                          np.repeat(2.0 * np.abs(g_cov - r_cov)[..., None] - 1.0, 3, -1)], 1)
    k = min(8, _NUM.value)
    row = lambda n, m: np.concatenate([n[i] * m[i][..., None] for i in range(k)], 1)
    grid = np.concatenate([row(r_n, r_mask), row(g_n, g_mask)], 0)
    pad = np.ones((top.shape[0], grid.shape[1] - top.shape[1], 3))
    sheet = np.concatenate([np.concatenate([top, pad], 1), grid], 0)
    sheet = np.repeat(np.repeat(sheet, 3, axis=0), 3, axis=1)   # 3x nearest upscale
    sheets.save_png(sheet, _OUT.value)


if __name__ == '__main__':
  app.run(main)
