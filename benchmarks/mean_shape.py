r"""How much of the depth / normal error is the *average* shape?

SIDE and MAD (`gan3d.eval.geometry`) compare each generated sample with its
Chamfer-nearest ground-truth face. One fixed shape can already score well:
the sphere-cap baseline is one. This script measures how far a perfect
average shape would get, and where a run's average shape differs from the
data's:

* ``gt_mean``: the pixelwise mean canonical depth of the first ``--num_mean``
  *training* faces (mask: pixels covered by more than half of them; normals
  from the depth), repeated ``--num`` times and scored against the test faces
  like a generator;
* ``gt_train``: ``--num`` training faces themselves scored as if generated
  (an upper bound for a generator of this data);
* ``sphere_cap``: the baseline of `launch.evaluate`;
* for each ``--steps`` entry of ``--workdir`` ('init' = the untrained
  generator): its ``--num`` samples (`gan3d.evaluate.generate_eval_set`,
  the same latents as `launch.evaluate`) and their pixelwise mean shape.

It then prints the vertical and horizontal centre-line profiles of the mean
shapes as object z (= camera distance - depth; towards the camera, blank off
the mask). About 2-3 minutes per entry on one CPU thread.

Run:
  python -m benchmarks.mean_shape --config=configs/synthetic.py \
      --workdir=/work/runs/s8/sym16+no_size+offset_paraboloid --steps=init,600
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
_NUM_MEAN = flags.DEFINE_integer('num_mean', 1024, 'training faces averaged for gt_mean')


def profile(depth: np.ndarray, mask: np.ndarray, d: float) -> tuple[str, str]:
  """Centre column (top -> bottom) and centre row (left -> right) as z."""
  n = depth.shape[0]
  c = n // 2
  def line(z, m):
    return ' '.join(f'{v:5.2f}' if ok else '    .' for v, ok in zip(z, m))
  z = d - depth
  return line(z[:, c], mask[:, c]), line(z[c, :], mask[c, :])


def main(argv):
  del argv
  config = _CONFIG.value
  num = _NUM.value
  ecfg = ev.resolve_eval_config(config, num_samples=num)
  d = float(config.render.camera_distance)
  n = int(config.resolution)
  test = pipeline.load_synthetic_ground_truth(config, split='test')
  train = pipeline.load_synthetic_ground_truth(config, split='train', num=_NUM_MEAN.value)
  k_gen, k_geo = jax.random.split(jax.random.PRNGKey(int(ecfg.seed)))

  tv = geometry.ground_truth_views(train, ecfg.geometry)
  sets, means = {}, {}
  means['gt_mean'] = shape_compare.mean_shape(tv['depth'], tv['mask'], d)
  sets['gt_mean'] = shape_compare.repeated(*means['gt_mean'], num)
  sets['gt_train'] = {'depth': tv['depth'][:num], 'alpha': tv['mask'][:num].astype(np.float32),
                      'normals': np.where(tv['normal_mask'][:num, ..., None],
                                          tv['normals'][:num], 0.0)}
  sets['sphere_cap'] = baselines.sphere_cap(num, n, n, d, radius=float(ecfg.disc_radius),
                                            cap_height=float(ecfg.cap_height))
  for s in _STEPS.value:
    params, w_avg = shape_compare.generator_at(config, _WORKDIR.value, s)
    gen = ev.generate_eval_set(params, w_avg, config, ecfg, k_gen, desc=f'step {s}')
    mask = gen['alpha'] > ecfg.geometry.alpha_threshold
    sets[f'step {s}'] = gen
    means[f'step {s} mean'] = shape_compare.mean_shape(gen['depth'], mask, d)
    sets[f'step {s} mean'] = shape_compare.repeated(*means[f'step {s} mean'], num)

  for name, generated in sets.items():
    m = ev.geometry_metrics(generated, test, k_geo, ecfg)
    keys = ('mmd_cd', 'coverage', 'side', 'mad')
    print(f'{name:16s}', json.dumps({k: round(float(m[k]), 4) for k in keys}), flush=True)
  print('\ncentre-line profiles of the mean shapes, object z (towards the camera)')
  for name, (depth, mask, _) in means.items():
    v, h = profile(depth, mask, d)
    print(f'{name} vertical (top -> bottom):\n  {v}')
    print(f'{name} horizontal (left -> right):\n  {h}')


if __name__ == '__main__':
  app.run(main)
