r"""What the smoothness prior charges the true faces and the generated shapes.

``train.smooth_weight = W`` adds W x `losses.normal_consistency` (the mean
over adjacent triangle pairs of ``1 - n_a . n_b``; about half the squared
angle between them) of G's meshes to G's loss. Does that prior rule out
the faces? This prints, for meshes of the generator's topology (the shape
image's N x N grid, `topology.grid_faces`):

  bend       the prior's cost (`losses.normal_consistency`, mean over meshes;
             `shape_compare.bend_costs`)
  angle_deg  the mean angle between adjacent triangles (degrees)

for
  * ``gt_faces``: ``--num`` training faces at the shape image's pixel
    centres (`shape_compare.face_shape_images`);
  * ``gt_mean_blurS``: their mean, its z blurred by a Gaussian of S
    shape-image pixels (`representation.gaussian_blur`; S = 0: not
    blurred), each also scored as one fixed shape against the test faces
    the way `launch.evaluate` scores a generator's samples (``side``,
    ``mad``, ``mmd_cd``; ``--num_eval`` copies of its crisp canonical
    render, `shape_compare.fixed_shape_scores`);
  * each ``--steps`` entry of ``--workdir`` ('init' = the untrained
    generator): ``--num`` samples (noise on), the meshes the prior sees in
    training.

About a minute plus a minute per step on one CPU thread.

Run:
  python -m benchmarks.prior_cost --config=configs/synthetic.py \
      --workdir=/work/runs/s35/main --steps=init,600
"""
from __future__ import annotations

import functools
import json

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
from ml_collections import config_flags
import numpy as np

from benchmarks import shape_compare
from gan3d import evaluate as ev
from gan3d import models
from gan3d import representation
from gan3d.data import pipeline

_CONFIG = config_flags.DEFINE_config_file('config', 'configs/synthetic.py', 'run config')
_WORKDIR = flags.DEFINE_string('workdir', None, 'run directory (checkpoints/)')
_STEPS = flags.DEFINE_list('steps', [], "checkpoint steps, or 'init'")
_NUM = flags.DEFINE_integer('num', 256, 'training faces (and generated samples)')
_BLURS = flags.DEFINE_list('blurs', ['0', '1', '2', '3'],
                           'Gaussian sigmas (shape-image pixels) for the mean face')
_NUM_EVAL = flags.DEFINE_integer('num_eval', 256, 'copies of each fixed shape scored')


def main(argv):
  del argv
  config = _CONFIG.value
  num = _NUM.value
  ecfg = ev.resolve_eval_config(config, num_samples=_NUM_EVAL.value)
  gt = shape_compare.face_shape_images(config, num)
  print('gt_faces', json.dumps(shape_compare.bend_costs(gt)), flush=True)
  test = pipeline.load_synthetic_ground_truth(config, split='test')
  mean = gt.mean(0)
  for b in _BLURS.value:
    sigma = float(b)
    s = mean.copy()
    if sigma > 0:
      s[..., 2] = np.asarray(representation.gaussian_blur(
          jnp.asarray(mean[None, ..., 2:3]), sigma))[0, ..., 0]
    out = shape_compare.bend_costs(s[None])
    out.update(shape_compare.fixed_shape_scores(s, test, config, ecfg, _NUM_EVAL.value))
    print(f'gt_mean_blur{b}', json.dumps(out), flush=True)
  if _STEPS.value:
    key = jax.random.PRNGKey(1)
    z_o = jax.random.normal(key, (num, config.model.z_dim))
    z_b = jax.random.normal(jax.random.fold_in(key, 1), (num, config.model.z_dim))
    gen = jax.jit(functools.partial(models.generate, config=config, noise=True))
    for step in _STEPS.value:
      params, _ = shape_compare.generator_at(config, _WORKDIR.value, step)
      _, scene = gen(params, z_o, z_b, jnp.zeros((num, 2)), jax.random.PRNGKey(2))
      print(step, json.dumps(shape_compare.bend_costs(scene['shape_image'])), flush=True)


if __name__ == '__main__':
  app.run(main)
