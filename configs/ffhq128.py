r"""FFHQ at 128 x 128: the paper's setting (section 8), sized for GPUs/TPUs.

Shape image N = 128, texture and background 2N = 256 (both StyleGANs run at
256 x 256), K = 4 shape pyramid (eq 13), size constraint s_max = 1.3
(eq 14), viewpoints yaw +-45 / pitch +-15 degrees, z_o and z_b 512-d.
Progressive growing from 16 x 16 to 128 x 128 is available with the
``progressive`` variant (the paper grew progressively; off by default, the
StyleGAN2 skip/residual networks train at full resolution from the start).
The shape is predicted as an offset from a hemisphere (the measured better
default, README "Results"); the paper's raw coordinates are
``--config.model.shape_param=raw --config.model.shape_output_scale=1.0``.

Prepare the images once (a folder of FFHQ PNGs, any size; nothing is
downloaded), then run:
  python -m launch.train --config=configs/ffhq128.py \
      --config.data.path=/data/ffhq --workdir=/tmp/gan3d_ffhq128

Multi-host (e.g. 2 hosts): on every host
  python -m launch.train --config=configs/ffhq128.py --config.data.path=... \
      --workdir=gs://.../run --coordinator_address=HOST0:1234 \
      --num_processes=2 --process_id=<0 or 1>

Variants (comma separated after a colon): progressive, crisp, no_size,
no_pyramid, yaw120 (the paper's ablations, Fig. 3), e.g.
``--config=configs/ffhq128.py:progressive,crisp``.
"""

from __future__ import annotations

import ml_collections

from configs import common
from gan3d.data import defaults as data_defaults
from gan3d.models import defaults as model_defaults

VARIANTS = ('progressive',)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  variants = common.parse_variants(arg)
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.resolution = 128

  c.model = model_defaults.model_config('paper')   # 512-d z/w, 8 mapping layers
  c.model.shape_pyramid_levels = 4                 # K (eq 13)
  c.model.size_constraint = True                   # eq 14
  c.model.s_max = 1.3
  c.model.progressive = 'progressive' in variants
  c.model.progressive_start_res = 16

  c.render = model_defaults.render_config()
  c.viewpoint = common.viewpoint_config(yaw=(-45.0, 45.0), pitch=(-15.0, 15.0))
  c.light = common.light_config('none')   # the paper: no lighting

  c.data = data_defaults.data_config('ffhq')
  c.data.path = ''                                 # required: --config.data.path

  t = c.train = common.train_config()
  t.batch_size = 32
  t.total_steps = 400_000
  t.g_lr = 0.0025
  t.d_lr = 0.0025
  t.r1_gamma = 1.0
  t.ema_kimg = 10.0
  t.progressive_fade_kimg = 600.0
  t.progressive_stable_kimg = 600.0
  t.data_resume = 'reseed'           # O(1) resume of the 70k-image stream
  t.log_every_steps = 100
  t.sample_every_steps = 2000
  t.checkpoint_every_steps = 2000
  return common.apply_ablations(c, variants, VARIANTS)
