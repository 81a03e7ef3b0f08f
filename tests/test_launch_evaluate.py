"""Tests of `gan3d.evaluate` / `launch.evaluate` on the tiny synthetic config.

One tiny run directory (a freshly initialised state saved with
`gan3d.checkpoint`, i.e. a step-0 checkpoint) and one tiny synthetic data set
(4 train + 8 test images at 16 x 16) are made once per session; the
generation pieces compile once and are shared with test_launch_sample.
"""
import json
import math
import os

import jax
import ml_collections
import numpy as np
import pytest

from configs import synthetic
from gan3d import checkpoint
from gan3d import evaluate
from gan3d import models
from gan3d import state as state_lib

_CACHE = {}


def tiny_config(data_dir: str) -> ml_collections.ConfigDict:
  c = synthetic.get_config('tiny')
  c.data.data_dir = data_dir
  c.data.synthetic.num_train = 4
  c.data.synthetic.num_test = 8
  return c


def make_run(tmp_path_factory):
  """(config, workdir) of a saved step-0 state; made once per process."""
  if 'run' not in _CACHE:
    root = tmp_path_factory.mktemp('launch_run')
    config = tiny_config(str(root / 'data'))
    workdir = str(root / 'work')
    init_key = jax.random.split(jax.random.PRNGKey(int(config.seed)))[0]  # as gan3d.train
    state = jax.jit(lambda k: state_lib.create_train_state(config, k))(init_key)
    manager = checkpoint.make_manager(workdir, 3)
    assert checkpoint.save(manager, state)
    manager.close()
    _CACHE['run'] = (config, workdir)
  return _CACHE['run']


@pytest.fixture(scope='session')
def tiny_run(tmp_path_factory):
  return make_run(tmp_path_factory)


@pytest.fixture(scope='session')
def evaluated(tiny_run):
  config, workdir = tiny_run
  geo = dict(num_points=64, chamfer_prefilter_points=0)
  result = evaluate.evaluate(config, workdir, num_samples=4, batch_size=4,
                             progress=False, geometry=geo)
  return config, workdir, result


GEO_KEYS = {'mmd_cd', 'coverage', 'side', 'mad', 'side_num_valid', 'mad_num_valid',
            'hollow_rate', 'empty_rate'}


def test_writes_json_with_documented_keys(evaluated):
  _, workdir, result = evaluated
  path = os.path.join(workdir, 'eval', 'metrics_step0.json')
  assert result['json_path'] == path
  with open(path) as fh:
    js = json.load(fh)
  assert js['step'] == 0 and js['num_samples'] == 4 and js['num_real'] == 4
  assert js['data'] == 'synthetic'
  assert set(js['image']) == {'generator', 'untrained'}
  for m in js['image'].values():
    assert set(m) == {'swd_16', 'swd_avg'}          # no FID without weights
    assert all(math.isfinite(v) and v >= 0 for v in m.values())
  geo = js['geometry']
  assert geo['num_ground_truth'] == 8
  assert set(geo) == {'num_ground_truth', 'generator', 'untrained', 'disc', 'sphere_cap'}
  for name in ('generator', 'untrained', 'disc', 'sphere_cap'):
    assert set(geo[name]) == GEO_KEYS, name
    assert 0.0 <= geo[name]['coverage'] <= 1.0
    assert 0.0 <= geo[name]['empty_rate'] <= 1.0
    assert math.isfinite(geo[name]['mmd_cd']) and geo[name]['mmd_cd'] >= 0
  # The analytic baselines cover the centre and match a face far better than
  # a random flat disc would match noise: finite SIDE / MAD on every sample.
  for name in ('disc', 'sphere_cap'):
    assert geo[name]['side_num_valid'] == 4
    assert math.isfinite(geo[name]['side']) and math.isfinite(geo[name]['mad'])
    assert geo[name]['hollow_rate'] == 0.0
  assert geo['sphere_cap']['mad'] < geo['disc']['mad']   # the cap has a face-like relief


def test_step0_checkpoint_is_the_untrained_generator(evaluated):
  # The baseline is the run's own initial generator: a step-0 checkpoint (EMA
  # = initial weights) must give exactly the same numbers.
  _, _, result = evaluated
  assert result['image']['generator'] == result['image']['untrained']
  assert result['geometry']['generator'] == result['geometry']['untrained']


def test_disc_and_cap_metrics_are_cached(evaluated, tmp_path):
  """The model-independent disc / sphere-cap numbers are computed once per
  (ground truth, settings) and read back after; a damaged cache file is
  recomputed; '' turns the cache off."""
  config, workdir, first = evaluated
  geo = dict(num_points=64, chamfer_prefilter_points=0)
  kw = dict(num_samples=4, batch_size=4, progress=False, geometry=geo)
  cache = tmp_path / 'cache'
  a = evaluate.evaluate(config, workdir, baseline_cache=str(cache), **kw)
  files = list(cache.glob('eval_baselines_*.json'))
  assert len(files) == 1
  b = evaluate.evaluate(config, workdir, baseline_cache=str(cache), **kw)
  for name in ('disc', 'sphere_cap'):
    assert a['geometry'][name] == first['geometry'][name] == b['geometry'][name]
  # The file is really what the second call used.
  data = json.loads(files[0].read_text())
  data['disc']['mad'] = 123.0
  files[0].write_text(json.dumps(data))
  assert evaluate.evaluate(config, workdir, baseline_cache=str(cache),
                           **kw)['geometry']['disc']['mad'] == 123.0
  # Other settings, other file.
  evaluate.evaluate(config, workdir, baseline_cache=str(cache), cap_height=0.4, **kw)
  assert len(list(cache.glob('eval_baselines_*.json'))) == 2
  files[0].write_text('{not json')
  c = evaluate.evaluate(config, workdir, baseline_cache=str(cache), **kw)
  assert c['geometry']['disc'] == first['geometry']['disc']
  files[0].write_text(json.dumps(data))   # mad = 123 again; '' must not read it
  before = sorted(os.listdir(cache))
  d = evaluate.evaluate(config, workdir, baseline_cache='', **kw)
  assert d['geometry']['disc'] == first['geometry']['disc']
  assert sorted(os.listdir(cache)) == before


def test_table_lists_every_metric_and_baseline(evaluated):
  _, _, result = evaluated
  table = evaluate.format_table(result)
  for word in ('swd_avg', 'Chamfer MMD', 'coverage', 'SIDE', 'MAD', 'hollow-face',
               'generator', 'untrained', 'disc', 'sphere_cap'):
    assert word in table, word


def test_restored_generator_is_finite(tiny_run):
  config, workdir = tiny_run
  gen = evaluate.load_generator(config, workdir)
  assert gen['step'] == 0
  leaves = jax.tree_util.tree_leaves(gen['params'])
  assert leaves and all(np.all(np.isfinite(np.asarray(x))) for x in leaves)
  ref = evaluate.untrained_generator(config)
  np.testing.assert_array_equal(
      np.asarray(jax.tree_util.tree_leaves(ref)[0]), np.asarray(leaves[0]))


def test_missing_checkpoint_is_a_clear_error(tmp_path):
  config = tiny_config(str(tmp_path / 'data'))
  with pytest.raises(FileNotFoundError, match='no checkpoint found'):
    evaluate.evaluate(config, str(tmp_path / 'empty'), num_samples=4, progress=False)
  assert not os.path.exists(tmp_path / 'empty')     # nothing created


def test_missing_step_names_the_available_ones(tiny_run):
  config, workdir = tiny_run
  with pytest.raises(FileNotFoundError, match=r'available steps: \[0\]'):
    evaluate.load_generator(config, workdir, step=7)


@pytest.mark.parametrize('key,value', [('num_samples', 1), ('batch_size', 0),
                                       ('num_real', -1)])
def test_bad_eval_values_are_rejected(key, value):
  with pytest.raises(ValueError, match=key):
    evaluate.resolve_eval_config(synthetic.get_config('tiny'), **{key: value})


def test_format_table_without_geometry_or_baselines():
  result = {'step': 3, 'num_samples': 2, 'num_real': 2, 'data': 'ffhq',
            'image': {'generator': {'swd_16': 1.5, 'swd_avg': 1.5, 'fid': 20.0,
                                    'kid': 0.01, 'kid_std': 0.001}}}
  table = evaluate.format_table(result)
  assert 'fid' in table and '3D metric' not in table and 'kid_std' not in table


def _first_chunk_scenes(config, ecfg, params):
  """The scenes of `generate_eval_set`'s first batch with key PRNGKey(0),
  rebuilt from the same latents (its key schedule)."""
  k = jax.random.fold_in(jax.random.PRNGKey(0), 0)
  k_zo, k_zb, _, k_syn, _ = (jax.random.fold_in(k, i) for i in range(5))
  zd, bs = int(config.model.z_dim), int(ecfg.batch_size)
  ws = evaluate.map_styles(params, jax.random.normal(k_zo, (bs, zd)),
                           jax.random.normal(k_zb, (bs, zd)), models.init_w_avg(config),
                           float(ecfg.truncation_psi), config)
  return evaluate.synthesize_scenes(params, ws, k_syn, config, bool(ecfg.noise))


def test_eval_set_reports_each_meshs_lean(tiny_run):
  """`generate_eval_set` returns ``lean [S]``: `losses.mesh_lean` of each
  sample's mesh (what canonical_view prints and train.lean_weight penalises)."""
  from gan3d import losses   # pylint: disable=g-import-not-at-top
  config, _ = tiny_run
  ecfg = evaluate.resolve_eval_config(config, num_samples=3)
  params = evaluate.untrained_generator(config)
  s = evaluate.generate_eval_set(params, models.init_w_avg(config), config, ecfg,
                                 jax.random.PRNGKey(0), progress=False)
  assert s['lean'].shape == (3,) and np.all(np.isfinite(s['lean']))
  assert np.all(np.abs(s['lean']) < 1.0)
  # The same numbers from the samples' meshes, rebuilt from the same latents.
  sc = _first_chunk_scenes(config, ecfg, params)
  want = np.asarray(losses.mesh_lean(sc['vertices'], sc['faces']))[:3]
  np.testing.assert_allclose(s['lean'], want, rtol=1e-5, atol=1e-7)


def test_eval_set_keeps_each_images_viewpoint_and_coverage(tiny_run):
  """``viewpoint [S, 2]`` lies in the prior's ranges and ``view_mask [S, N,
  N]`` is the crisp coverage of the sample's mesh at that viewpoint: 0/1,
  and a render of the same mesh at another viewpoint covers other pixels."""
  config, _ = tiny_run
  ecfg = evaluate.resolve_eval_config(config, num_samples=3)
  params = evaluate.untrained_generator(config)
  s = evaluate.generate_eval_set(params, models.init_w_avg(config), config, ecfg,
                                 jax.random.PRNGKey(0), progress=False)
  n = int(config.resolution)
  assert s['viewpoint'].shape == (3, 2) and s['view_mask'].shape == (3, n, n)
  yaw, pitch = np.degrees(s['viewpoint']).T
  lo, hi = config.viewpoint.yaw_range_deg
  assert np.all((yaw >= lo) & (yaw <= hi))
  lo, hi = config.viewpoint.pitch_range_deg
  assert np.all((pitch >= lo) & (pitch <= hi))
  assert set(np.unique(s['view_mask'])) <= {0.0, 1.0}
  assert np.all(s['view_mask'].sum((1, 2)) > 0)
  # the same meshes re-rendered at their viewpoints give the same coverage
  sc = _first_chunk_scenes(config, ecfg, params)
  vp = np.zeros((int(ecfg.batch_size), 2), np.float32)
  vp[:3] = s['viewpoint']
  again = evaluate.render_batch(sc['vertices'], sc['texture'], sc['background'], vp,
                                sc['faces'], sc['uv'], config)
  np.testing.assert_array_equal(again['mask'][:3], s['view_mask'])
  vp[:3, 0] += np.radians(40.0)
  other = evaluate.render_batch(sc['vertices'], sc['texture'], sc['background'], vp,
                                sc['faces'], sc['uv'], config)
  assert np.any(other['mask'][:3] != s['view_mask'])
