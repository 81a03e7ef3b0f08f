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
from ml_collections import config_flags
import numpy as np

from benchmarks import shape_compare

_CONFIG = config_flags.DEFINE_config_file('config', 'configs/synthetic.py', 'run config')
_OUT = flags.DEFINE_string('out', None, 'output .npy path', required=True)
_NUM = flags.DEFINE_integer('num', 1024, 'training faces averaged')


def main(argv):
  del argv
  t = shape_compare.face_shape_images(_CONFIG.value, _NUM.value).mean(0)
  np.save(_OUT.value, t)
  c = t.shape[0] // 2
  print(f'wrote {_OUT.value} {t.shape}; centre column z (top -> bottom):')
  print(' '.join(f'{z:5.2f}' for z in t[:, c, 2]))


if __name__ == '__main__':
  app.run(main)
