"""Tests of the training loop and the compiled step (fake small models).

The machinery (loop, resume, signals, non-finite stop, lazy regularisation,
RNG, no retracing) is tested with the fast stand-in networks of
`test_train_fakes`; the real networks + renderer run in test_train_real.py
(slow).
"""

import os
import signal

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan3d import checkpoint
from gan3d import distributed
from gan3d import state as state_lib
from gan3d import summaries
from gan3d import train
from gan3d import train_step as train_step_lib
from tests import test_train_fakes as fakes


@pytest.fixture(autouse=True)
def _fakes(monkeypatch):
  fakes.install(monkeypatch)
  monkeypatch.setattr(fakes, 'SIGTERM_AT', None)


def _config(total=6, **train_overrides):
  c = fakes.fake_config()
  c.train.total_steps = total
  c.train.checkpoint_every_steps = 3
  c.train.sample_every_steps = 0
  c.train.update(train_overrides)
  return c


def _losses(workdir):
  rows = summaries.read_metrics(workdir)
  return {r['step']: (r['d_loss'], r['g_loss'], r['d_grad_norm']) for r in rows}


def _params(state):
  return jax.device_get((state.g_params, state.d_params, state.g_ema_params,
                         state.w_avg))


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
  """A 6-step run without interruption: (workdir, final state)."""
  mp = pytest.MonkeyPatch()
  fakes.install(mp)
  try:
    workdir = str(tmp_path_factory.mktemp('full'))
    state = train.train_and_evaluate(_config(6), workdir)
  finally:
    mp.undo()
  return workdir, state


def test_run_produces_finite_losses_checkpoints_and_summaries(tmp_path):
  workdir = str(tmp_path)
  c = _config(4, checkpoint_every_steps=2, summaries=True, sample_every_steps=2,
              keep_checkpoints=1)
  state = train.train_and_evaluate(c, workdir)
  assert int(state.step) == 4
  rows = summaries.read_metrics(workdir)
  assert [r['step'] for r in rows] == [1, 2, 3, 4]
  for r in rows:
    for k in ('d_loss', 'g_loss', 'd_grad_norm', 'g_grad_norm', 'images_per_sec'):
      assert np.isfinite(r[k]), (k, r)
  assert 'r1' in rows[0] and rows[0]['r1'] > 0   # step 0 is an R1 step
  # Renderer health is logged; the tiny config's soft pair list never overflows.
  assert all(r['soft_overflow'] == 0 and r['render_overflow'] >= 0 for r in rows)
  # keep_checkpoints=1: only the latest survives.
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['4']
  events = os.listdir(os.path.join(workdir, 'tb'))
  assert events and events[0].startswith('events.out.tfevents')
  assert os.path.getsize(os.path.join(workdir, 'tb', events[0])) > 1000  # images
  # The config is recorded; resuming with one that builds another model fails.
  assert os.path.exists(os.path.join(workdir, 'config.json'))
  other = _config(4)
  other.model.size_constraint = not other.model.size_constraint
  with pytest.raises(ValueError, match='model.size_constraint: trained with'):
    train.train_and_evaluate(other, workdir)


def test_resume_in_process_matches_uninterrupted(tmp_path, uninterrupted):
  full_dir, full_state = uninterrupted
  workdir = str(tmp_path)
  s3 = train.train_and_evaluate(_config(3), workdir)   # "killed" after step 3
  assert int(s3.step) == 3
  s6 = train.train_and_evaluate(_config(6), workdir)   # resumes at 3
  assert int(s6.step) == 6
  a, b = _losses(full_dir), _losses(workdir)
  assert sorted(b) == [1, 2, 3, 4, 5, 6]
  for step in (4, 5, 6):
    np.testing.assert_allclose(b[step], a[step], rtol=1e-6, atol=1e-7)
  chex.assert_trees_all_close(_params(s6), _params(full_state), rtol=1e-6,
                              atol=1e-7)


def test_sigterm_saves_then_resume_matches(tmp_path, monkeypatch, uninterrupted):
  full_dir, full_state = uninterrupted
  workdir = str(tmp_path)
  previous = signal.getsignal(signal.SIGTERM)
  monkeypatch.setattr(fakes, 'SIGTERM_AT', 1)   # while fetching step 2's batch
  state = train.train_and_evaluate(_config(6), workdir)
  assert signal.getsignal(signal.SIGTERM) is previous   # handler restored
  assert int(state.step) == 2                           # finished the step
  manager = checkpoint.make_manager(workdir, 3)
  assert manager.latest_step() == 2                     # saved on the signal
  monkeypatch.setattr(fakes, 'SIGTERM_AT', None)
  s6 = train.train_and_evaluate(_config(6), workdir)
  a, b = _losses(full_dir), _losses(workdir)
  for step in (3, 4, 5, 6):
    np.testing.assert_allclose(b[step], a[step], rtol=1e-6, atol=1e-7)
  chex.assert_trees_all_close(_params(s6), _params(full_state), rtol=1e-6,
                              atol=1e-7)


def test_nonfinite_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
  real_iter = fakes.make_train_iterator

  def poisoned(config, process_index=0, process_count=1):
    for i, batch in enumerate(real_iter(config, process_index, process_count)):
      if i == 4:   # step 5
        batch = {'image': np.full_like(batch['image'], np.nan)}
      yield batch

  monkeypatch.setattr(fakes, 'make_train_iterator', poisoned)
  workdir = str(tmp_path)
  with pytest.raises(FloatingPointError, match='non-finite values at step 5'):
    train.train_and_evaluate(_config(6, checkpoint_every_steps=2), workdir)
  manager = checkpoint.make_manager(workdir, 3)
  assert manager.all_steps() == [2, 4]
  template = _init_state(_config())
  restored = checkpoint.restore_latest(manager, template)
  assert int(restored.step) == 4
  assert bool(state_lib.all_finite(restored))


def _init_state(config, seed=0):
  return state_lib.create_train_state(config, jax.random.PRNGKey(seed))


def test_one_trace_for_all_steps(monkeypatch):
  """R1 / path-length steps and plain steps share one compiled function
  (with the light prior on, so that its three draws run in every phase; the
  unlit step runs in the other tests of this file)."""
  pl_weight = 2.0
  c = _config(pl_weight=pl_weight, pl_interval=2, r1_interval=3)
  c.light.model = 'camera'
  chex.clear_trace_counter()
  traced = chex.assert_max_traces(train_step_lib.train_step, n=1)
  monkeypatch.setattr(train_step_lib, 'train_step', traced)
  mesh = distributed.make_mesh()
  step_fn = train_step_lib.make_train_step(c, mesh)
  state = distributed.replicate(_init_state(c), mesh)
  it = fakes.make_train_iterator(c)
  r1_steps, pl_steps = [], []
  for _ in range(6):
    state, m = step_fn(state, distributed.global_batch(next(it), mesh))
    r1_steps.append(float(m['r1_step']))
    pl_steps.append(float(m['pl_step']))
    assert float(m['finite']) == 1.0
  assert r1_steps == [1, 0, 0, 1, 0, 0]
  assert pl_steps == ([1, 0, 1, 0, 1, 0] if pl_weight else [0] * 6)
  if pl_weight:
    assert float(state.pl_mean) > 0


def test_step_updates_everything_and_donates():
  c = _config()
  mesh = distributed.make_mesh()
  step_fn = train.compiled_step(c, mesh, train_step_lib.stage_at(c, 0))
  s0 = distributed.replicate(_init_state(c), mesh)
  # Copies: a zero-copy numpy view of a CPU buffer would block its donation.
  before = jax.tree_util.tree_map(lambda x: np.array(x, copy=True), s0)
  batch = distributed.global_batch(next(fakes.make_train_iterator(c)), mesh)
  s1, m = step_fn(s0, batch)
  donated = [x.is_deleted() for x in jax.tree_util.tree_leaves(
      (s0.g_params, s0.d_params, s0.g_opt_state, s0.g_ema_params))]
  assert all(donated), donated
  after = jax.device_get(s1)
  assert int(after.step) == 1
  np.testing.assert_array_equal(after.rng, before.rng)  # base key fixed
  for name in ('g_params', 'd_params', 'w_avg'):
    diff = jax.tree_util.tree_map(lambda a, b: np.abs(a - b).max(),
                                  getattr(after, name), getattr(before, name))
    assert max(jax.tree_util.tree_leaves(diff)) > 0, name
  # Step 0: EMA ramp-up makes beta 0, so the EMA equals the new params.
  assert float(m['ema_beta']) == 0.0
  chex.assert_trees_all_close(after.g_ema_params, after.g_params)


def test_rng_keys_are_distinct_per_consumer_and_step():
  base = jax.random.PRNGKey(3)
  seen = set()
  for step in range(3):
    keys = train_step_lib._split_keys(jax.random.fold_in(base, step))
    assert set(keys) == set(train_step_lib.KEY_NAMES)
    for k in keys.values():
      seen.add(tuple(np.asarray(k).tolist()))
  assert len(seen) == 3 * len(train_step_lib.KEY_NAMES)


def test_progressive_schedule_and_reals():
  c = fakes.fake_config()
  c.resolution = 64
  c.model.progressive = True
  c.model.progressive_start_res = 16
  c.train.batch_size = 10
  c.train.progressive_fade_kimg = 0.1     # 100 images = 10 steps
  c.train.progressive_stable_kimg = 0.05  # 50 images = 5 steps
  stages = train_step_lib.progressive_stages(c)
  assert [(s, st.res) for s, st in stages] == [(0, 16), (5, 32), (20, 64)]
  assert train_step_lib.stage_at(c, 4).res == 16
  assert train_step_lib.stage_at(c, 5).res == 32
  assert train_step_lib.stage_at(c, 1000).res == 64
  st = train_step_lib.stage_at(c, 5)
  np.testing.assert_allclose(train_step_lib.fade_alpha(st, jnp.asarray(50)), 0.0)
  np.testing.assert_allclose(train_step_lib.fade_alpha(st, jnp.asarray(100)), 0.5)
  np.testing.assert_allclose(train_step_lib.fade_alpha(st, jnp.asarray(500)), 1.0)
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 64, 64, 3))
  r = train_step_lib.reals_at_stage(x, st, jnp.asarray(1.0))
  chex.assert_shape(r, (2, 32, 32, 3))
  np.testing.assert_allclose(r[0, 0, 0], x[0, :2, :2].mean((0, 1)), rtol=1e-5)
  r0 = train_step_lib.reals_at_stage(x, st, jnp.asarray(0.0))
  np.testing.assert_allclose(r0[0, 0, 0], r0[0, 1, 1], rtol=1e-5)  # 2x2 blocks
  c.model.progressive = False
  assert [s.res for _, s in train_step_lib.progressive_stages(c)] == [64]


def _two_steps_with_weight(knob, weight, metric, **extra):
  """One config with ``train.<knob>=weight``: from the same state, batch and
  keys, runs two compiled steps and returns (``metric`` and ``g_loss``
  logged by the first step, ``metric`` logged by the second). A step's
  metrics are measured before its update, so the second step's ``metric``
  shows the first update's effect. The other priors on G are off, whatever
  the config's defaults, so that the knob's effect is measured alone;
  ``extra`` sets further ``train`` keys."""
  mesh = distributed.make_mesh()
  c = _config(**{'lean_weight': 0.0, 'smooth_weight': 0.0, 'crease_weight': 0.0,
                 knob: weight,
                 'r1_interval': 0, **extra})
  step_fn = train.compiled_step(c, mesh, train_step_lib.stage_at(c, 0))
  state = distributed.replicate(_init_state(c), mesh)
  batch = distributed.global_batch(next(fakes.make_train_iterator(c)), mesh)
  state, m = step_fn(state, batch)
  assert float(m['finite']) == 1.0
  _, m2 = step_fn(state, batch)
  return float(m[metric]), float(m['g_loss']), float(m2[metric])


@pytest.mark.parametrize('measure', ['mesh', 'front'])
def test_lean_weight_turns_the_generated_surfaces_to_the_front(measure):
  """train.lean_weight > 0 adds the lean penalty to G's loss: one step with
  a large weight leaves the batch's logged lean (measured before the
  update) and adversarial loss unchanged and moves the surfaces' mean lean
  nearer 0 than the step without it, for either train.lean_measure."""
  leans = {w: _two_steps_with_weight('lean_weight', w, 'lean', lean_measure=measure)
           for w in (0.0, 1e4)}
  assert leans[0.0][:2] == pytest.approx(leans[1e4][:2], rel=1e-5)
  assert abs(leans[0.0][0]) > 1e-3
  assert abs(leans[1e4][2]) < abs(leans[0.0][2])


def test_lean_measure_picks_the_logged_lean():
  """The logged ``lean`` is `losses.front_lean` with lean_measure 'front'
  and `mesh_lean` with 'mesh': on the untrained generator, whose vertices
  move in x and y too, the two differ."""
  mesh_lean, _, _ = _two_steps_with_weight('lean_weight', 0.0, 'lean', lean_measure='mesh')
  front_lean, _, _ = _two_steps_with_weight('lean_weight', 0.0, 'lean', lean_measure='front')
  assert np.isfinite(front_lean)
  assert front_lean != pytest.approx(mesh_lean, rel=1e-3, abs=1e-6)


def test_smooth_weight_unbends_the_generated_surfaces():
  """train.smooth_weight > 0 adds the normal-consistency prior to G's loss:
  one step with a large weight leaves the logged ``bend`` (measured before
  the update) and adversarial loss unchanged and lowers the next step's
  bend below the step without it."""
  bends = {w: _two_steps_with_weight('smooth_weight', w, 'bend') for w in (0.0, 1e3)}
  assert bends[0.0][:2] == pytest.approx(bends[1e3][:2], rel=1e-5)
  assert bends[0.0][0] > 0
  assert bends[1e3][2] < bends[0.0][2]


def test_crease_weight_smooths_the_folds_of_the_generated_surfaces():
  """train.crease_weight > 0 adds the crease prior to G's loss: the logged
  ``crease`` and adversarial loss of the first step are unchanged and G's
  gradient grows by the prior's (the fake config's untrained shapes are
  noise, crease ~7, too rough for one Adam step to smooth; that a descent
  step lowers the penalty is tests/test_losses.py's)."""
  creases = {w: _two_steps_with_weight('crease_weight', w, 'crease') for w in (0.0, 1e3)}
  assert creases[0.0][:2] == pytest.approx(creases[1e3][:2], rel=1e-5)
  assert creases[0.0][0] > 0
  norms = {w: _two_steps_with_weight('crease_weight', w, 'g_grad_norm')[0]
           for w in (0.0, 1e3)}
  assert norms[1e3] > 10 * norms[0.0]


def test_render_health_warns_once_per_key_and_names_the_setting():
  warned = set()
  assert train.render_health_warnings({'render_overflow': 0.0, 'soft_overflow': 0.0}, 1, warned) == []
  msgs = train.render_health_warnings({'render_overflow': 3.0, 'soft_overflow': 0.0}, 2, warned)
  assert len(msgs) == 1 and 'render.window' in msgs[0] and 'step 2' in msgs[0]
  assert train.render_health_warnings({'render_overflow': 5.0, 'soft_overflow': 0.0}, 3, warned) == []
  msgs = train.render_health_warnings({'render_overflow': 5.0, 'soft_overflow': 7.0}, 4, warned)
  assert len(msgs) == 1 and 'render.soft_pairs_per_pixel' in msgs[0]


def test_loop_checks_render_health_every_step(tmp_path, monkeypatch):
  seen = []

  def record(metrics, step, warned):
    seen.append((step, 'render_overflow' in metrics, 'soft_overflow' in metrics))
    return ['renderer says hello'] if step == 1 else []
  monkeypatch.setattr(train, 'render_health_warnings', record)
  train.train_and_evaluate(_config(2), str(tmp_path))
  assert seen == [(1, True, True), (2, True, True)]
