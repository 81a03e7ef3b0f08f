"""Validation of a full experiment config at the start of a run.

Every error names the offending key (``config.train.batch_size=...``) so a
bad command line fails in the first second, not after compilation.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import ml_collections

from gan3d.losses import LEAN_MEASURES
from gan3d.models.layers import UPSAMPLE_PADS
from gan3d.representation import SHAPE_BRANCHES, SHAPE_PARAMS, load_template
DATA_RESUME = ('skip', 'reseed')
DATA_NAMES = ('synthetic', 'ffhq', 'folder')


class ConfigError(ValueError):
  """A config value is missing or invalid; the message names the key."""


def _get(config: ml_collections.ConfigDict, key: str) -> Any:
  node = config
  for part in key.split('.'):
    if not hasattr(node, part) and not (isinstance(node, dict) and part in node):
      raise ConfigError(f'config.{key} is missing')
    node = node[part]
  return node


def _fail(key: str, value: Any, why: str):
  raise ConfigError(f'config.{key}={value!r}: {why}')


def _int(config, key, minimum=None):
  v = _get(config, key)
  if isinstance(v, bool) or not isinstance(v, int):
    _fail(key, v, 'must be an int')
  if minimum is not None and v < minimum:
    _fail(key, v, f'must be >= {minimum}')
  return v


def _float(config, key, minimum=None, maximum=None, strict_min=False):
  v = _get(config, key)
  if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
    _fail(key, v, 'must be a finite number')
  if minimum is not None and (v < minimum or (strict_min and v == minimum)):
    _fail(key, v, f'must be {">" if strict_min else ">="} {minimum}')
  if maximum is not None and v > maximum:
    _fail(key, v, f'must be <= {maximum}')
  return float(v)


def _range(config, key, lo, hi, unit=' in degrees'):
  v = _get(config, key)
  try:
    a, b = (float(x) for x in v)
  except (TypeError, ValueError):
    _fail(key, v, f'must be a (min, max) pair of numbers{unit}')
  if not (lo <= a <= b <= hi):
    _fail(key, v, f'must satisfy {lo} <= min <= max <= {hi}')


def is_power_of_two(n: int) -> bool:
  return n > 0 and (n & (n - 1)) == 0


def validate(config: ml_collections.ConfigDict,
             num_devices: Optional[int] = None,
             num_processes: int = 1) -> ml_collections.ConfigDict:
  """Checks ``config``; raises `ConfigError` naming the first bad key.

  Args:
    config: the experiment config (schema in docs/interfaces.md).
    num_devices: global device count; the global batch must split evenly.
    num_processes: number of hosts; the global batch must split evenly.
  Returns:
    ``config`` unchanged.
  """
  _int(config, 'seed')
  res = _int(config, 'resolution', minimum=1)
  if not is_power_of_two(res) or res < 8:
    _fail('resolution', res, 'must be a power of two >= 8')

  # --- model
  for k in ('z_dim', 'w_dim', 'mapping_layers', 'channel_base', 'channel_max',
            'd_channel_base', 'd_channel_max', 'shape_pyramid_levels'):
    _int(config, f'model.{k}', minimum=1)
  _int(config, 'model.mbstd_group_size', minimum=0)
  _float(config, 'model.style_mixing_prob', 0.0, 1.0)
  _float(config, 'model.w_avg_beta', 0.0, 1.0)
  _float(config, 'model.s_max', 0.0, strict_min=True)
  sp = _get(config, 'model.shape_param')
  if sp not in SHAPE_PARAMS:
    _fail('model.shape_param', sp, f'unknown; expected one of {SHAPE_PARAMS}')
  if sp == 'offset_template':
    load_template(str(config.model.get('base_template', '')), int(config.resolution))
  _float(config, 'model.base_radius', 0.0, strict_min=True)
  if 'shape_init_scale' in config.model:
    _float(config, 'model.shape_init_scale', 0.0)
  if 'texture_offset' in config.model:
    _float(config, 'model.texture_offset', -1.0, 1.0)
  if sp == 'offset_paraboloid':
    _float(config, 'model.base_zero_radius', 0.0, strict_min=True)
    _float(config, 'model.base_height', 0.0)
  if sp == 'offset_sphere':
    _float(config, 'model.base_wrap_deg', 0.0, 180.0, strict_min=True)
  if 'learned_base_mult' in config.model:
    _float(config, 'model.learned_base_mult', 0.0)
  if 'learned_base_res' in config.model:
    lbr = _int(config, 'model.learned_base_res', minimum=0)
    if lbr and (not is_power_of_two(lbr) or not 2 <= lbr <= res):
      _fail('model.learned_base_res', lbr,
            f'must be 0 (= resolution) or a power of two in [2, resolution = {res}]')
  smr = _int(config, 'model.shape_max_res', minimum=0)
  if smr and (not is_power_of_two(smr) or not 4 <= smr <= 2 * res):
    _fail('model.shape_max_res', smr,
          f'must be 0 (off) or a power of two in [4, 2 * resolution = {2 * res}]')
  if 'skip_pad' in config.model:
    if config.model.skip_pad not in UPSAMPLE_PADS:
      _fail('model.skip_pad', config.model.skip_pad, f'must be one of {UPSAMPLE_PADS}')
  if 'shape_branch' in config.model:
    branch = config.model.shape_branch
    if branch not in SHAPE_BRANCHES:
      _fail('model.shape_branch', branch, f'must be one of {SHAPE_BRANCHES}')
    if branch == 'separate' and not smr:
      _fail('model.shape_branch', branch,
            'needs model.shape_max_res > 0 (the separate tower runs up to it)')
  if _get(config, 'model.progressive'):
    start = _int(config, 'model.progressive_start_res', minimum=1)
    if not is_power_of_two(start) or not 8 <= start <= res:
      _fail('model.progressive_start_res', start,
            f'must be a power of two in [8, resolution={res}]')

  # --- render / viewpoint
  _float(config, 'render.soft_width', 0.0, strict_min=True)
  _float(config, 'render.slope', 0.0)
  _int(config, 'render.window', minimum=1)
  if 'supersample' in config.render:
    _int(config, 'render.supersample', minimum=1)
  _float(config, 'render.soft_pairs_per_pixel', 0.0)
  _float(config, 'render.camera_distance', 1.0, strict_min=True)
  _range(config, 'viewpoint.yaw_range_deg', -180.0, 180.0)
  _range(config, 'viewpoint.pitch_range_deg', -90.0, 90.0)
  if 'light' in config:
    from gan3d.models import lighting  # pylint: disable=g-import-not-at-top
    lm = _get(config, 'light.model')
    if lm not in lighting.LIGHT_MODELS:
      _fail('light.model', lm, f'unknown; expected one of {lighting.LIGHT_MODELS}')
    _float(config, 'light.spread_deg', 0.0, 90.0)
    if 'tilt_deg' in config.light:
      _float(config, 'light.tilt_deg', -90.0, 90.0)
    if 'leak' in config.light:
      _float(config, 'light.leak', 0.0, 1.0)
    _range(config, 'light.ambient', 0.0, 1.0, unit=' (fractions)')

  # --- data
  name = _get(config, 'data.name')
  if name not in DATA_NAMES:
    _fail('data.name', name, f'unknown; expected one of {DATA_NAMES}')
  if name in ('folder', 'ffhq') and not config.data.get('path'):
    _fail('data.path', config.data.get('path'),
          f'data.name={name!r} needs the folder of training images '
          '(--config.data.path=DIR)')

  # --- train
  t = 'train.'
  batch = _get(config, t + 'batch_size')
  if isinstance(batch, bool) or not isinstance(batch, int) or batch <= 0:
    _fail(t + 'batch_size', batch, 'must be a positive int')
  if num_devices and batch % num_devices:
    _fail(t + 'batch_size', batch,
          f'must be divisible by the number of devices ({num_devices})')
  if num_processes and batch % num_processes:
    _fail(t + 'batch_size', batch,
          f'must be divisible by the number of processes ({num_processes})')
  group = config.model.mbstd_group_size
  per_device = batch // (num_devices or 1)
  if group > 1 and per_device % min(group, per_device):
    _fail(t + 'batch_size', batch,
          f'per-device batch {per_device} must be divisible by '
          f'min(model.mbstd_group_size={group}, per-device batch)')
  _int(config, t + 'total_steps', minimum=1)
  if 'shape_freeze_steps' in config.train:
    _int(config, t + 'shape_freeze_steps', minimum=0)
  for k in ('g_lr', 'd_lr', 'adam_eps', 'shape_lr_mult'):
    _float(config, t + k, 0.0, strict_min=True)
  if 'shape_bias_lr_mult' in config.train:
    _float(config, t + 'shape_bias_lr_mult', 0.0)
  _float(config, t + 'adam_b1', 0.0, 1.0)
  _float(config, t + 'adam_b2', 0.0, 1.0)
  _float(config, t + 'r1_gamma', 0.0)
  _int(config, t + 'r1_interval', minimum=0)
  _float(config, t + 'pl_weight', 0.0)
  if 'lean_weight' in config.train:
    _float(config, t + 'lean_weight', 0.0)
  if 'lean_measure' in config.train:
    if config.train.lean_measure not in LEAN_MEASURES:
      _fail(t + 'lean_measure', config.train.lean_measure,
            f'must be one of {LEAN_MEASURES}')
  if 'smooth_weight' in config.train:
    _float(config, t + 'smooth_weight', 0.0)
  if 'crease_weight' in config.train:
    _float(config, t + 'crease_weight', 0.0)
  _int(config, t + 'pl_interval', minimum=1)
  _float(config, t + 'pl_decay', 0.0, 1.0)
  shrink = _int(config, t + 'pl_batch_shrink', minimum=1)
  if _get(config, t + 'pl_weight') > 0 and (batch % shrink or
                                           (batch // shrink) % (num_devices or 1)):
    _fail(t + 'pl_batch_shrink', shrink,
          f'batch_size/pl_batch_shrink must be an int divisible by the '
          f'device count ({num_devices})')
  _float(config, t + 'ema_kimg', 0.0)
  if config.train.ema_rampup is not None:
    _float(config, t + 'ema_rampup', 0.0)
  _float(config, t + 'progressive_fade_kimg', 0.0)
  _float(config, t + 'progressive_stable_kimg', 0.0)
  mode = _get(config, t + 'data_resume')
  if mode not in DATA_RESUME:
    _fail(t + 'data_resume', mode, f'expected one of {DATA_RESUME}')
  for k in ('log_every_steps', 'checkpoint_every_steps', 'keep_checkpoints'):
    _int(config, t + k, minimum=1)
  _int(config, t + 'sample_every_steps', minimum=0)
  _int(config, t + 'num_sample_images', minimum=1)
  return config
