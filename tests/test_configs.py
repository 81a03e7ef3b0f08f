"""Configs build, validate, carry the paper's settings; bad values fail at
start with a message naming the key."""

import os
import subprocess
import sys

import pytest

from configs import ffhq128
from configs import folder
from configs import synthetic
from gan3d import config_checks
from gan3d import train

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _valid(c):
  if c.data.name != 'synthetic':
    c.data.path = '/some/images'
  return config_checks.validate(c, num_devices=1)


@pytest.mark.parametrize('module,arg', [
    (synthetic, None), (synthetic, 'tiny'), (synthetic, 'runlocal'),
    (synthetic, 'crisp'), (synthetic, 'tiny,no_size,no_pyramid,yaw120'),
    (ffhq128, None), (ffhq128, 'progressive'), (ffhq128, 'crisp,yaw120'),
    (folder, None), (folder, '128,progressive'),
])
def test_configs_validate(module, arg):
  _valid(module.get_config(arg))


def test_ffhq128_is_the_papers_setting():
  c = ffhq128.get_config()
  assert c.resolution == 128
  assert (c.model.z_dim, c.model.w_dim, c.model.mapping_layers) == (512, 512, 8)
  assert c.model.shape_pyramid_levels == 4 and c.model.size_constraint
  assert c.model.s_max == 1.3
  assert c.viewpoint.yaw_range_deg == (-45.0, 45.0)
  assert c.viewpoint.pitch_range_deg == (-15.0, 15.0)
  assert c.render.soft
  p = ffhq128.get_config('progressive')
  assert p.model.progressive and p.model.progressive_start_res == 16


@pytest.mark.parametrize('variant,key,value', [
    ('crisp', 'render.soft', False),
    ('no_size', 'model.size_constraint', False),
    ('no_pyramid', 'model.shape_pyramid_levels', 1),
    ('yaw120', 'viewpoint.yaw_range_deg', (-120.0, 120.0)),
])
def test_ablation_variants(variant, key, value):
  # The synthetic default has eq 14 off already: its tiny variant has it on.
  for module, base_arg in ((synthetic, 'tiny'), (ffhq128, None)):
    arg = variant if base_arg is None else f'{base_arg},{variant}'
    c = module.get_config(arg)
    section, name = key.split('.')
    assert c[section][name] == value
    base = module.get_config(base_arg)
    assert base[section][name] != value


def test_synthetic_default_has_no_size_constraint_and_size_turns_it_on():
  assert not synthetic.get_config().model.size_constraint
  assert synthetic.get_config('size').model.size_constraint
  assert synthetic.get_config('tiny').model.size_constraint
  assert ffhq128.get_config().model.size_constraint       # the paper's


def test_unknown_variant_fails():
  with pytest.raises(ValueError, match="unknown config variant 'nope'"):
    synthetic.get_config('nope')


def _set(c, key, value):
  node = c
  *parents, last = key.split('.')
  for p in parents:
    node = node[p]
  node[last] = value


@pytest.mark.parametrize('key,value,devices,match', [
    ('train.batch_size', 0, 1, r'config\.train\.batch_size=0'),
    ('train.batch_size', -4, 1, r'config\.train\.batch_size=-4'),
    ('train.batch_size', 6, 4, r'train\.batch_size=6.*divisible.*devices \(4\)'),
    ('resolution', 48, 1, r'config\.resolution=48: must be a power of two'),
    ('model.shape_param', 'sphere', 1, r'config\.model\.shape_param=.sphere.: unknown'),
    ('data.name', 'imagenet', 1, r'config\.data\.name=.imagenet.'),
    ('train.r1_interval', -1, 1, r'config\.train\.r1_interval=-1'),
    ('train.g_lr', 0.0, 1, r'config\.train\.g_lr=0\.0'),
    ('viewpoint.yaw_range_deg', (45.0, -45.0), 1, r'config\.viewpoint\.yaw_range_deg'),
    ('render.soft_width', 0.0, 1, r'config\.render\.soft_width'),
    ('train.data_resume', 'rewind', 1, r'config\.train\.data_resume'),
    ('model.progressive_start_res', 12, 1, r'config\.model\.progressive_start_res'),
    ('model.shape_max_res', 12, 1, r'config\.model\.shape_max_res=12'),
    ('model.shape_max_res', 64, 1, r'config\.model\.shape_max_res=64'),
    ('model.shape_branch', 'own', 1, r"config\.model\.shape_branch='own'"),
    ('model.skip_pad', 'reflect', 1, r"config\.model\.skip_pad='reflect'"),
    ('model.shape_branch', 'separate', 1, r'shape_branch.*needs model\.shape_max_res'),
    ('train.shape_lr_mult', 0.0, 1, r'config\.train\.shape_lr_mult=0\.0'),
    ('model.shape_init_scale', -0.5, 1, r'config\.model\.shape_init_scale=-0\.5'),
    ('model.learned_base_mult', -1.0, 1, r'config\.model\.learned_base_mult=-1\.0'),
    ('model.learned_base_res', 12, 1, r'config\.model\.learned_base_res=12'),
    ('model.texture_offset', 1.5, 1, r'config\.model\.texture_offset=1\.5'),
    ('train.shape_freeze_steps', -1, 1, r'config\.train\.shape_freeze_steps=-1'),
    ('train.shape_bias_lr_mult', -0.5, 1, r'config\.train\.shape_bias_lr_mult=-0\.5'),
    ('train.lean_weight', -1.0, 1, r'config\.train\.lean_weight=-1\.0'),
    ('train.lean_measure', 'centre', 1, r"config\.train\.lean_measure='centre'"),
    ('train.smooth_weight', -2.0, 1, r'config\.train\.smooth_weight=-2\.0'),
    ('train.crease_weight', -3.0, 1, r'config\.train\.crease_weight=-3\.0'),
    ('render.supersample', 0, 1, r'config\.render\.supersample=0'),
])
def test_bad_values_name_the_key(key, value, devices, match):
  c = synthetic.get_config('tiny')
  c.model.progressive = True
  _set(c, key, value)
  with pytest.raises(config_checks.ConfigError, match=match):
    config_checks.validate(c, num_devices=devices)


@pytest.mark.parametrize('name', ['ffhq', 'folder'])
def test_missing_data_path(name):
  c = synthetic.get_config('tiny')
  c.data.name = name
  c.data.path = ''
  with pytest.raises(config_checks.ConfigError, match=r'config\.data\.path'):
    config_checks.validate(c, num_devices=1)


def test_missing_key():
  c = synthetic.get_config('tiny')
  del c.train['r1_gamma']
  with pytest.raises(config_checks.ConfigError, match=r'config\.train\.r1_gamma is missing'):
    config_checks.validate(c, num_devices=1)


def test_train_fails_at_start_before_any_work(tmp_path):
  c = synthetic.get_config('tiny')
  c.train.batch_size = 0
  with pytest.raises(config_checks.ConfigError, match='train.batch_size'):
    train.train_and_evaluate(c, str(tmp_path))
  assert not os.listdir(tmp_path)    # nothing created


def test_launcher_reports_bad_override(tmp_path):
  """The command line: a bad --config override fails at start, naming it."""
  env = dict(os.environ, PYTHONPATH=REPO, JAX_PLATFORMS='cpu')
  proc = subprocess.run(
      [sys.executable, '-m', 'launch.train', '--config=configs/synthetic.py:tiny',
       '--config.train.batch_size=-2', f'--workdir={tmp_path}'],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode != 0
  assert 'config.train.batch_size=-2' in proc.stderr, proc.stderr[-2000:]
