r"""Any folder of images (centre-cropped and resized to N x N).

The architecture of configs/ffhq128.py at a resolution given after the colon
(default 64), for your own object-centred photo collections. Run:
  python -m launch.train --config=configs/folder.py:64 \
      --config.data.path=/data/my_images --workdir=/tmp/gan3d_folder

Variants after the resolution: progressive, crisp, no_size, no_pyramid,
yaw120, e.g. ``--config=configs/folder.py:128,no_size``.
"""

from __future__ import annotations

import ml_collections

from configs import common
from configs import ffhq128


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  variants = common.parse_variants(arg)
  res = 64
  if variants and variants[0].isdigit():
    res = int(variants.pop(0))
  c = ffhq128.get_config(','.join(variants))
  c.resolution = res
  c.data.name = 'folder'
  c.data.path = ''                                 # required: --config.data.path
  c.train.r1_gamma = max(0.0002 * res * res / c.train.batch_size, 0.05)
  if c.model.progressive:
    c.model.progressive_start_res = min(16, res)
  return c
