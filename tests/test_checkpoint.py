"""Orbax checkpoints of the full TrainState: round trip, retention,
atomicity, refusal to save non-finite states."""

import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan3d import checkpoint
from gan3d import state as state_lib
from tests import test_train_fakes as fakes


@pytest.fixture(autouse=True)
def _fakes(monkeypatch):
  fakes.install(monkeypatch)


def _state(seed=0, step=0):
  s = state_lib.create_train_state(fakes.fake_config(), jax.random.PRNGKey(seed))
  return s.replace(step=jnp.asarray(step, jnp.int32),
                   pl_mean=jnp.asarray(0.25, jnp.float32))


def test_round_trip_restores_everything(tmp_path):
  manager = checkpoint.make_manager(str(tmp_path), keep=3)
  assert checkpoint.restore_latest(manager, _state()) is None
  saved = _state(seed=1, step=7)
  assert checkpoint.save(manager, saved)
  restored = checkpoint.restore_latest(manager, _state(seed=2))
  chex.assert_trees_all_equal(jax.device_get(restored), jax.device_get(saved))
  assert int(restored.step) == 7
  # Adam moments and counts survive (optax namedtuples).
  chex.assert_trees_all_equal_structs(restored.g_opt_state, saved.g_opt_state)


def test_keeps_last_n_and_skips_existing(tmp_path):
  manager = checkpoint.make_manager(str(tmp_path), keep=2)
  for step in (1, 2, 3):
    assert checkpoint.save(manager, _state(step=step))
  assert not checkpoint.save(manager, _state(step=3))    # already there
  assert manager.all_steps() == [2, 3]
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['2', '3']


def test_refuses_non_finite_state(tmp_path):
  manager = checkpoint.make_manager(str(tmp_path), keep=2)
  assert checkpoint.save(manager, _state(step=1))
  bad = _state(step=2)
  bad = bad.replace(d_params=jax.tree_util.tree_map(
      lambda x: x.at[(0,) * x.ndim].set(jnp.nan), bad.d_params))
  with pytest.raises(checkpoint.NonFiniteStateError, match='step 2'):
    checkpoint.save(manager, bad)
  assert manager.all_steps() == [1]
  assert int(checkpoint.restore_latest(manager, _state()).step) == 1


def test_unfinished_write_is_not_the_latest(tmp_path):
  """A temp dir left by a write killed midway is ignored (atomic rename)."""
  manager = checkpoint.make_manager(str(tmp_path), keep=3)
  assert checkpoint.save(manager, _state(step=1))
  # What orbax leaves behind when killed before the final rename.
  tmp = tmp_path / 'checkpoints' / '2.orbax-checkpoint-tmp-1234'
  tmp.mkdir()
  (tmp / 'junk').write_text('partial')
  manager = checkpoint.make_manager(str(tmp_path), keep=3)
  assert manager.latest_step() == 1
  assert int(checkpoint.restore_latest(manager, _state()).step) == 1


def test_run_config_recorded_and_checked(tmp_path):
  workdir = str(tmp_path)
  c = fakes.fake_config()
  checkpoint.check_run_config(c, workdir)          # no record yet: nothing to check
  path = checkpoint.write_run_config(c, workdir)
  assert path == os.path.join(workdir, 'config.json')
  assert [f for f in os.listdir(workdir)] == ['config.json']   # no temporary left
  # Sections outside the model may change (longer runs, other data path).
  c.train.total_steps = int(c.train.total_steps) + 10
  checkpoint.write_run_config(c, workdir)
  # A key that builds another model is named, with both values.
  bad = fakes.fake_config()
  bad.render.soft = not bad.render.soft
  bad.viewpoint.yaw_range_deg = (-120.0, 120.0)
  with pytest.raises(ValueError, match=r'render.soft: trained with .*viewpoint.yaw_range_deg'):
    checkpoint.check_run_config(bad, workdir)
  with pytest.raises(ValueError, match='render.soft'):
    checkpoint.write_run_config(bad, workdir)     # the record is not overwritten
  checkpoint.check_run_config(fakes.fake_config(), workdir)


def test_run_config_light_section(tmp_path):
  """A lit run must be evaluated lit; a record without a light section (runs
  before the light prior existed) was trained unlit."""
  workdir = str(tmp_path)
  c = fakes.fake_config()
  c.light.model = 'camera'
  checkpoint.write_run_config(c, workdir)
  with pytest.raises(ValueError, match='light.model'):
    checkpoint.check_run_config(fakes.fake_config(), workdir)
  old = str(tmp_path / 'old')
  os.makedirs(old)
  record = json.loads(fakes.fake_config().to_json_best_effort())
  del record['light']
  with open(os.path.join(old, 'config.json'), 'w') as fh:
    json.dump(record, fh)
  checkpoint.check_run_config(fakes.fake_config(), old)        # unlit: fine
  with pytest.raises(ValueError, match='light.model'):
    checkpoint.check_run_config(c, old)


def test_run_config_ignores_init_only_and_added_keys(tmp_path):
  """model.shape_init_scale shapes only the initial parameters: a checkpoint
  evaluates the same with any value, and records without it still match;
  a record without a key added later (model.base_template) matches its old
  value only."""
  workdir = str(tmp_path)
  c = fakes.fake_config()
  c.model.shape_init_scale = 0.1
  checkpoint.write_run_config(c, workdir)
  other = fakes.fake_config()
  other.model.shape_init_scale = 1.0
  checkpoint.check_run_config(other, workdir)
  record = json.loads(c.to_json_best_effort())
  del record['model']['shape_init_scale']
  with open(os.path.join(workdir, 'config.json'), 'w') as fh:
    json.dump(record, fh)
  checkpoint.check_run_config(other, workdir)
  # Keys added since: a record without one matches the old value only.
  for key, other_value in (('model.base_template', '/some/template.npy'),
                           ('light.tilt_deg', 30.0),
                           ('model.texture_offset', -0.2),
                           ('render.supersample', 2)):
    section, name = key.split('.')
    assert name in record[section]
    del record[section][name]
    with open(os.path.join(workdir, 'config.json'), 'w') as fh:
      json.dump(record, fh)
    checkpoint.check_run_config(other, workdir)
    old = other[section][name]
    assert old == checkpoint.ADDED_KEYS[key]
    other[section][name] = other_value
    with pytest.raises(ValueError, match=key):
      checkpoint.check_run_config(other, workdir)
    other[section][name] = old
  other.model.s_max = 2.0                       # a real model key still counts
  with pytest.raises(ValueError, match='model.s_max'):
    checkpoint.check_run_config(other, workdir)
