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
`shape_compare.rms_relief_difference`). The sphere cap (`launch.evaluate`'s
baseline) and the pixelwise mean of ``--num_mean`` training faces
(``gt_mean``, as in `benchmarks.mean_shape`: the best score one fixed shape
has reached) are scored first; then each ``--steps`` entry of ``--workdir``
('init' = the untrained generator), on the samples and with the matching of
`launch.evaluate` (same latents and keys, so the SIDE printed equals its
``side``). About a minute per entry on one thread, plus the samples'
generation.

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
    _, sub = ev.covered_samples(generated, ecfg)
    m = geometry.evaluate_geometry(sub, test, k_geo, g, return_matches=True)
    match = m['nearest_reference']
    r, valid = geometry.side_residuals(sub['depth'], ref['depth'][match],
                                       (sub['alpha'] > g.alpha_threshold) & ref['mask'][match])
    rings = shape_compare.border_rings(ref['mask'][match], _RINGS.value)
    vert, horiz = shape_compare.line_profiles(r, valid, _BAND.value)
    dz = shape_compare.rms_relief_difference(sub['depth'], ref['depth'][match], valid)
    print(name, json.dumps({'side': round(float(m['side']), 4), 'rms_dz': round(dz, 4),
                            'rings': shape_compare.breakdown(r, valid, rings, _RINGS.value)}))
    print(f'  centre column, top -> bottom (x100): {_fmt(vert)}')
    print(f'  middle row, left -> right (x100):    {_fmt(horiz)}', flush=True)


if __name__ == '__main__':
  app.run(main)
