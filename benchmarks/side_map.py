r"""Where on the face the depth error (SIDE) of a generator comes from.

SIDE (`gan3d.eval.geometry`) is the root mean square of per-pixel residuals
``r = delta - mean(delta)``, ``delta = log d_gen - log d_true``, each sample
against its Chamfer-nearest test face (`geometry.side_residuals`). This
script splits the squared residuals by how far a pixel lies inside the true
face's canonical mask (ring 1: the pixels on its border, ring 2: the next
ones in, ...) and prints the mean residual along the vertical centre line
and the horizontal middle line of the image (positive: the generated
surface is farther from the camera than the true one), and the rms
difference of the relief in object units (``rms_dz``;
`rms_relief_difference`). The sphere cap (`launch.evaluate`'s baseline)
and the pixelwise mean of ``--num_mean`` training faces (``gt_mean``, as
in `benchmarks.mean_shape`: the best score one fixed shape has reached) are scored
first; then each ``--steps``
entry of ``--workdir`` ('init' = the untrained generator), on the samples
and with the matching of `launch.evaluate` (same latents and keys, so the
SIDE printed equals its ``side``). About a minute per entry on one thread,
plus the samples' generation.

Run:
  python -m benchmarks.side_map --config=configs/synthetic.py \
      --workdir=/work/runs/main/default --steps=600
"""
from __future__ import annotations

import json

from absl import app
from absl import flags
import jax
from ml_collections import config_flags
import numpy as np

from benchmarks import shape_compare
from gan3d import evaluate as ev
from gan3d.data import pipeline
from gan3d.eval import baselines
from gan3d.eval import geometry

_CONFIG = config_flags.DEFINE_config_file('config', 'configs/synthetic.py', 'run config')
_WORKDIR = flags.DEFINE_string('workdir', None, 'run directory (checkpoints/)')
_STEPS = flags.DEFINE_list('steps', [], "checkpoint steps, or 'init'")
_NUM = flags.DEFINE_integer('num', 256, 'samples per generated set')
_RINGS = flags.DEFINE_integer('rings', 4, 'border rings reported on their own')
_BAND = flags.DEFINE_integer('band', 4, 'width (pixels) of the centre-line bands')
_NUM_MEAN = flags.DEFINE_integer('num_mean', 1024, 'training faces averaged for the mean '
                                 'face (benchmarks.mean_shape gt_mean); 0: leave it out')


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


def _fmt(profile) -> str:
  return ' '.join(f'{100 * p:+.1f}' for p in profile if np.isfinite(p))


def main(argv):
  del argv
  config = _CONFIG.value
  num = _NUM.value
  ecfg = ev.resolve_eval_config(config, num_samples=num)
  g = ecfg.geometry
  d, n = float(config.render.camera_distance), int(config.resolution)
  test = pipeline.load_synthetic_ground_truth(config, split='test')
  ref = geometry.ground_truth_views(test, g)
  k_gen, k_geo = jax.random.split(jax.random.PRNGKey(int(ecfg.seed)))
  sets = {'sphere_cap': baselines.sphere_cap(num, n, n, d, radius=float(ecfg.disc_radius),
                                             cap_height=float(ecfg.cap_height))}
  if _NUM_MEAN.value:
    train = pipeline.load_synthetic_ground_truth(config, split='train', num=_NUM_MEAN.value)
    tv = geometry.ground_truth_views(train, g)
    sets['gt_mean'] = shape_compare.repeated(*shape_compare.mean_shape(tv['depth'], tv['mask'], d),
                                             num)
  for s in _STEPS.value:
    params, w_avg = shape_compare.generator_at(config, _WORKDIR.value, s)
    sets[f'step {s}'] = ev.generate_eval_set(params, w_avg, config, ecfg, k_gen,
                                             desc=f'step {s}')
  for name, generated in sets.items():
    mask = np.asarray(generated['alpha']) > g.alpha_threshold
    keep = mask.reshape(mask.shape[0], -1).any(axis=1)
    sub = {k: np.asarray(generated[k])[keep] for k in ('depth', 'normals', 'alpha')}
    m = geometry.evaluate_geometry(sub, test, k_geo, g, return_matches=True)
    match = m['nearest_reference']
    r, valid = geometry.side_residuals(sub['depth'], ref['depth'][match],
                                       mask[keep] & ref['mask'][match])
    rings = border_rings(ref['mask'][match], _RINGS.value)
    vert, horiz = line_profiles(r, valid, _BAND.value)
    dz = rms_relief_difference(sub['depth'], ref['depth'][match], valid)
    print(name, json.dumps({'side': round(float(m['side']), 4), 'rms_dz': round(dz, 4),
                            'rings': breakdown(r, valid, rings, _RINGS.value)}))
    print(f'  centre column, top -> bottom (x100): {_fmt(vert)}')
    print(f'  middle row, left -> right (x100):    {_fmt(horiz)}', flush=True)


if __name__ == '__main__':
  app.run(main)
