r"""Writes the mean synthetic face as a shape image, for diagnostics.

The base of ``--config.model.shape_param=offset_template`` is any ``[N, N,
3]`` shape image (``config.model.base_template``). This script writes the
*ground-truth* mean face of the synthetic data: the relief of the first
``--num`` training faces (the same face parameters as the data set: the
keys of `gan3d.data.synthetic.example_keys`) evaluated at the shape image's
pixel centres (u, v in the parameter disc, x = R u, y = R v, scaled like
`gan3d.data.faces.face_vertices` into the fit radius) and averaged. A
generator started there starts at the data's average shape, which no real
run can know: it is a probe of the training objective (does training keep
the right average shape, or move away from it?), not a result.

Run:
  python -m benchmarks.face_template --config=configs/synthetic.py \
      --out=/tmp/mean_face_32.npy
"""
from __future__ import annotations

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
from ml_collections import config_flags
import numpy as np

from gan3d.data import faces
from gan3d.data import synthetic

_CONFIG = config_flags.DEFINE_config_file('config', 'configs/synthetic.py', 'run config')
_OUT = flags.DEFINE_string('out', None, 'output .npy path', required=True)
_NUM = flags.DEFINE_integer('num', 1024, 'training faces averaged')


def mean_face(config, num: int) -> np.ndarray:
  """The mean ``[N, N, 3]`` shape image of the first ``num`` training faces,
  each from `faces.face_points` at the shape image's pixel centres."""
  spec = synthetic.spec_from_config(config)
  keys = synthetic.example_keys(int(config.data.synthetic.seed), 'train', np.arange(num))
  n = int(config.resolution)
  c = (jnp.arange(n, dtype=jnp.float32) + 0.5) / n * 2.0 - 1.0
  u, v = jnp.meshgrid(c, -c)          # row 0 = top, as representation.base_surface

  def one(key):
    p = faces.sample_face_params(jax.random.fold_in(key, 0), dict(spec.face))
    return faces.face_points(p, u, v, spec.disc_radius, spec.fit_radius)

  return np.asarray(jnp.mean(jax.jit(jax.vmap(one))(keys), 0), np.float32)


def main(argv):
  del argv
  t = mean_face(_CONFIG.value, _NUM.value)
  np.save(_OUT.value, t)
  c = t.shape[0] // 2
  print(f'wrote {_OUT.value} {t.shape}; centre column z (top -> bottom):')
  print(' '.join(f'{z:5.2f}' for z in t[:, c, 2]))


if __name__ == '__main__':
  app.run(main)
