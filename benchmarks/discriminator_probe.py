r"""What a trained discriminator says about real faces with the wrong relief.

A diagnostic of the shape ambiguities (the paper's section on ambiguities:
the hollow-mask illusion). It renders ``--num`` faces of the synthetic test
split exactly as the data set does (same face, texture, background,
viewpoint and light per example: `gan3d.data.synthetic.render_example`), once
per ``--relief`` scale of their object z (1 = the data, -1 = the same face
inside out, 0 = flat, 0.5 = half the relief), then once per ``--shear``
t with the true relief (z += t y: t > 0 turns the face down, as the lit
generator's shapes do; docs/synthetic_study.md "The lit generator turns
its surface away from the light"), quantises them to 8 bits like the stored
photos, and feeds each set, in batches of one kind as in training,
to the discriminator of a checkpoint. It prints per scale the mean logit,
its spread over the faces, and the fraction of faces whose logit is at
least that of the same face with its true relief (``ge_data``), and the
mean of the per-face differences to that logit with its standard error
(``minus_data``, ``minus_data_se``). A
discriminator that tells the shapes apart scores the true relief highest;
equal logits mean the images give it nothing to push the shape with.

The renders use the data set's crisp rasterizer and window; faces whose
render overflows that window are re-rendered with a larger one, by the data
set's own `synthetic.render_without_overflow`. Costs about a minute per checkpoint on the 2-core CPU.

With ``--train_split`` it also scores the first ``--num`` *training* faces
(true relief, as stored) and prints their mean logit against the test
faces' (``train_split``: ``train_minus_test`` and its standard error): a
discriminator that memorised its training photos scores them higher than
held-out ones (StyleGAN2-ADA's sign of overfitting).

Run (the config flags of the run, as for `launch.evaluate`):
  python -m benchmarks.discriminator_probe --config=configs/synthetic.py \
      --workdir=/work/runs/s15/sym16+no_size+offset_paraboloid+rad0.8+init0.1 \
      --config.model.shape_param=offset_paraboloid --config.model.base_radius=0.8 \
      --config.model.shape_init_scale=0.1 --step=600
"""
from __future__ import annotations

import json

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
from ml_collections import config_flags
import numpy as np

from gan3d import evaluate as ev
from gan3d import models
from gan3d.data import synthetic

_CONFIG = config_flags.DEFINE_config_file('config', 'configs/synthetic.py', 'run config')
_WORKDIR = flags.DEFINE_string('workdir', None, 'run directory (checkpoints/)', required=True)
_STEP = flags.DEFINE_integer('step', None, 'checkpoint step (default: latest)')
_NUM = flags.DEFINE_integer('num', 256, 'test faces')
_BATCH = flags.DEFINE_integer('batch', 32, 'faces per rendering and discriminator batch')
_RELIEF = flags.DEFINE_list('relief', ['1', '-1', '0.5', '0'],
                            'relief scales; the first must be 1 (the data)')
_SHEAR = flags.DEFINE_list('shear', [], 'shears t (z += t y) of the true relief, rows "shear=t"')
_TRAIN_SPLIT = flags.DEFINE_bool('train_split', False,
                                 'also score --num training faces against the test faces')


def render_faces(spec: synthetic.SynthSpec, keys, relief: float, batch: int,
                 shear: float = 0.0) -> np.ndarray:
  """``[num, N, N, 3]`` uint8 renders of the faces of ``keys`` with their
  object z multiplied by ``relief`` (then sheared, z += shear y), made and
  quantised as the data set's (`synthetic.render_without_overflow`,
  `synthetic.to_uint8`)."""
  return np.concatenate([
      synthetic.to_uint8(synthetic.render_without_overflow(
          keys[i:i + batch], spec, relief_scale=jnp.float32(relief),
          shear=jnp.float32(shear))['image'])
      for i in range(0, len(keys), batch)])


def main(argv):
  del argv
  c = _CONFIG.value
  if c.data.name != 'synthetic':
    raise app.UsageError('discriminator_probe needs the synthetic data set')
  reliefs = [float(r) for r in _RELIEF.value]
  if not reliefs or reliefs[0] != 1.0:
    raise app.UsageError('--relief must start with 1 (the data itself)')
  num, batch = int(_NUM.value), int(_BATCH.value)
  group = max(1, int(c.model.mbstd_group_size))
  if num % batch or batch % group:
    raise app.UsageError(f'--num ({num}) must be a multiple of --batch ({batch}), and '
                         f'--batch of model.mbstd_group_size ({group})')
  state, step = ev.load_train_state(c, _WORKDIR.value, _STEP.value)
  spec = synthetic.spec_from_config(c)
  keys = synthetic.example_keys(int(c.data.synthetic.seed), 'test', np.arange(num))
  d_fn = jax.jit(lambda p, x: models.discriminate(p, x, c))

  def score(face_keys, r, t):
    imgs = render_faces(spec, face_keys, r, batch, t).astype(np.float32) / 127.5 - 1.0
    return np.concatenate([np.asarray(d_fn(state.d_params, imgs[i:i + batch]))
                           for i in range(0, num, batch)])

  variants = {f'{r:g}': (r, 0.0) for r in reliefs}
  variants.update({f'shear={float(t):g}': (1.0, float(t)) for t in _SHEAR.value})
  logits = {}
  for name, (r, t) in variants.items():
    logits[name] = score(keys, r, t)
  base = logits['1']
  rows = {name: dict(mean_logit=round(float(v.mean()), 3),
                         std=round(float(v.std()), 3),
                         minus_data=round(float(np.mean(v - base)), 3),
                         minus_data_se=round(float(np.std(v - base) / np.sqrt(num)), 3),
                         ge_data=round(float(np.mean(v >= base)), 3))
          for name, v in logits.items()}
  out = {'workdir': _WORKDIR.value, 'step': step, 'num': num, 'relief': rows}
  if _TRAIN_SPLIT.value:
    train = score(synthetic.example_keys(int(c.data.synthetic.seed), 'train', np.arange(num)),
                  1.0, 0.0)
    se = np.sqrt((train.var() + base.var()) / num)
    out['train_split'] = dict(mean_logit=round(float(train.mean()), 3),
                              std=round(float(train.std()), 3),
                              train_minus_test=round(float(train.mean() - base.mean()), 3),
                              train_minus_test_se=round(float(se), 3))
  print(json.dumps(out))


if __name__ == '__main__':
  app.run(main)
