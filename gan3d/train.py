"""The training loop: ``train_and_evaluate(config, workdir)``.

One readable loop (big_vision style): validate the config, build the mesh and
the state, resume from the latest checkpoint in ``workdir``, then per step
fetch a batch, run the compiled update (`gan3d.train_step`), check that it is
finite, log, draw sample grids, checkpoint. SIGTERM/SIGINT make the loop save
a checkpoint and return at the end of the current step.

Outputs in ``workdir``: ``checkpoints/`` (orbax), ``tb/`` (TensorBoard
events: losses, R1, path length, gradient norms, images/s, sample grids of the
EMA generator with normal maps), ``metrics.jsonl`` (the logged scalars).
"""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
import time
from typing import Iterator, Optional

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan3d import checkpoint
from gan3d import config_checks
from gan3d import data as data_lib
from gan3d import distributed
from gan3d import models
from gan3d.models import lighting
from gan3d import state as state_lib
from gan3d import summaries
from gan3d import train_step as train_step_lib


class StopRequested:
  """Turns SIGTERM/SIGINT into a flag the loop polls (save, then stop).

  A second signal of the same kind falls back to the previous handler (e.g.
  a second Ctrl-C raises KeyboardInterrupt immediately).
  """

  SIGNALS = (signal.SIGTERM, signal.SIGINT)

  def __init__(self):
    self.requested = False
    self.signum = None
    self._previous = {}

  def _handler(self, signum, frame):
    del frame
    if self.requested:
      prev = self._previous.get(signum)
      signal.signal(signum, prev if prev is not None else signal.SIG_DFL)
      signal.raise_signal(signum)
      return
    self.requested = True
    self.signum = signum
    logging.warning('received %s: saving a checkpoint and stopping after '
                    'this step', signal.Signals(signum).name)

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for s in self.SIGNALS:
        self._previous[s] = signal.signal(s, self._handler)
    return self

  def __exit__(self, *exc):
    for s, prev in self._previous.items():
      signal.signal(s, prev)
    return False


def data_iterator(config: ml_collections.ConfigDict, start_step: int
                  ) -> Iterator[dict]:
  """This host's slice of the training stream, positioned at ``start_step``.

  ``config.train.data_resume``: 'skip' replays the stream from the start and
  drops ``start_step`` batches (the resumed run sees exactly the batches of an
  uninterrupted one); 'reseed' starts a fresh stream with the seed folded
  with the step (O(1), statistically equivalent, not bit-identical).
  """
  if start_step and config.train.data_resume == 'reseed':
    config = ml_collections.ConfigDict(config.to_dict())
    config.seed = int(np.random.SeedSequence(
        [int(config.seed), int(start_step)]).generate_state(1)[0] % (2**31 - 1))
  it = data_lib.make_train_iterator(config, process_index=jax.process_index(),
                                    process_count=jax.process_count())
  if start_step and config.train.data_resume == 'skip':
    for _ in range(start_step):
      next(it)
  return it


def make_sampler(config: ml_collections.ConfigDict, seed_key: jax.Array):
  """A jitted ``(g_ema_params, stage_res, fade) -> rows`` for the sample grid.

  Fixed latents (from ``seed_key``) and, per ``config.train.sample_yaws_deg``,
  a row of rendered images and a row of normal maps (pitch 0); plus the
  textures and background crops. All in [0, 1].
  """
  t = config.train
  s = int(t.num_sample_images)
  zd = int(config.model.z_dim)
  k_zo, k_zb, k_gen = jax.random.split(seed_key, 3)
  z_o = jax.random.normal(k_zo, (s, zd))
  z_b = jax.random.normal(k_zb, (s, zd))

  light = lighting.figure_lights(s, config)   # lit from the front, if at all

  @functools.partial(jax.jit, static_argnums=(1,))
  def sample(params, stage_res, fade):
    rows = {}
    for i, yaw in enumerate(t.sample_yaws_deg):
      v = jnp.tile(jnp.asarray([[np.deg2rad(yaw), 0.0]], jnp.float32), (s, 1))
      img, scene = models.generate(params, z_o, z_b, v, k_gen, config, light=light,
                                   stage_res=stage_res, fade_alpha=fade)
      rows[f'image_yaw{i}'] = (img + 1) / 2
      n = scene['normals']
      mask = (scene['alpha'] > 0.5)[..., None]
      rows[f'normals_yaw{i}'] = jnp.where(mask, (n + 1) / 2, 0.5)
      if i == 0:
        tex = scene['texture']
        th = tex.shape[1] // img.shape[1]
        tex = tex.reshape(s, img.shape[1], th, img.shape[2], th, 3).mean((2, 4))
        rows['texture'] = (tex + 1) / 2
        rows['background'] = (scene['background'] + 1) / 2
    return {k: jnp.clip(v, 0, 1) for k, v in rows.items()}

  return sample


# Keys of config.train that do not change the compiled step.
_NOT_IN_STEP = ('total_steps', 'log_every_steps', 'sample_every_steps',
                'checkpoint_every_steps', 'keep_checkpoints', 'summaries',
                'progress_bar', 'data_resume', 'num_sample_images',
                'sample_yaws_deg')
_COMPILED_STEPS = {}


def compiled_step(config: ml_collections.ConfigDict, mesh,
                  stage: train_step_lib.Stage):
  """`train_step.make_train_step`, memoised per process on everything the
  step depends on, so that repeated ``train_and_evaluate`` calls in one
  process (resume in a notebook, tests) reuse the compiled program."""
  key = (_step_key(config), stage, mesh)
  if key not in _COMPILED_STEPS:
    _COMPILED_STEPS[key] = train_step_lib.make_train_step(config, mesh, stage)
  return _COMPILED_STEPS[key]


def _compiled_init(config: ml_collections.ConfigDict, mesh):
  """Jitted `create_train_state`, memoised like `compiled_step`."""
  key = ('init', _step_key(config), mesh)
  if key not in _COMPILED_STEPS:
    _COMPILED_STEPS[key] = jax.jit(
        functools.partial(state_lib.create_train_state, config),
        out_shardings=distributed.replicated(mesh))
  return _COMPILED_STEPS[key]


def _step_key(config: ml_collections.ConfigDict) -> str:
  """The config minus data and logging keys, as a hashable string."""
  d = config.to_dict()
  d.pop('data', None)
  d['train'] = {k: v for k, v in d['train'].items() if k not in _NOT_IN_STEP}
  return repr(sorted(checkpoint.flatten_dict(d).items()))


def _mean_metrics(history: list[dict]) -> dict:
  """Averages over the steps since the last log; r1/pl over their steps."""
  out = {}
  keys = history[0].keys()
  for k in keys:
    if k in ('finite', 'r1_step', 'pl_step'):
      continue
    vals = np.asarray([h[k] for h in history], np.float64)
    if k in ('r1', 'pl'):
      mask = np.asarray([h[k + '_step'] for h in history]) > 0
      if not mask.any():
        continue
      vals = vals[mask]
    out[k] = float(vals.mean())
  return out


def _check_finite(metrics: dict, step: int):
  if metrics['finite'] > 0:
    return
  bad = sorted(k for k, v in metrics.items() if not np.isfinite(v))
  raise FloatingPointError(
      f'non-finite values at step {step}: {bad} '
      f'({ {k: metrics[k] for k in bad} }). Stopping; nothing was saved '
      'for this step and the last good checkpoint is kept. Try a lower '
      'learning rate or a larger r1_gamma.')


# Renderer health metrics of the train step -> the setting that fixes each.
_RENDER_HEALTH = {
    'render_overflow': ('triangles were clipped by the renderer\'s pixel window',
                        'raise --config.render.window (gan3d.render.suggest_window '
                        'gives the smallest that clips nothing for given meshes)'),
    'soft_overflow': ('soft-layer pairs were dropped (their gradients are lost)',
                      'raise --config.render.soft_pairs_per_pixel'),
}


def render_health_warnings(metrics: dict, step: int, warned: set) -> list[str]:
  """Messages for renderer health metrics that are non-zero for the first
  time in this run (each key once; ``warned`` records them)."""
  out = []
  for key, (what, fix) in _RENDER_HEALTH.items():
    value = float(metrics.get(key, 0.0))
    if value > 0 and key not in warned:
      warned.add(key)
      out.append(f'step {step}: {key}={value:g}: {what} in at least one image of '
                 f'the batch; {fix}. Training goes on; this is said once per run.')
  return out


def _progress_bar(enabled: bool, start: int, total: int):
  if not enabled:
    return contextlib.nullcontext(None)
  try:
    import tqdm  # pylint: disable=g-import-not-at-top
  except ImportError:
    return contextlib.nullcontext(None)
  return tqdm.tqdm(initial=start, total=total, unit='step', dynamic_ncols=True,
                   desc='train')


def _say(bar, msg: str):
  logging.info(msg)
  if bar is not None:
    bar.write(msg)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str
                       ) -> state_lib.TrainState:
  """Trains (or resumes) the run in ``workdir``; returns the final state.

  Args:
    config: experiment config (``configs/*.py``), validated first.
    workdir: run directory; an existing checkpoint there is resumed.
  Raises:
    config_checks.ConfigError: bad config value (names the key).
    FloatingPointError: a loss or gradient became NaN/Inf.
  """
  config_checks.validate(config, num_devices=jax.device_count(),
                         num_processes=jax.process_count())
  t = config.train
  main = distributed.is_main_process()
  mesh = distributed.make_mesh()
  if main:
    checkpoint.write_run_config(config, workdir)
  else:
    checkpoint.check_run_config(config, workdir)

  root = jax.random.PRNGKey(int(config.seed))
  init_key, sample_key = jax.random.split(root)
  state = _compiled_init(config, mesh)(init_key)
  manager = checkpoint.make_manager(workdir, int(t.keep_checkpoints))
  restored = checkpoint.restore_latest(manager, state)
  if restored is not None:
    state = restored
  start = int(jax.device_get(state.step))
  total = int(t.total_steps)
  logging.info('devices: %d (%d local), processes: %d; G params %d, D params '
               '%d; %s at step %d', jax.device_count(),
               jax.local_device_count(), jax.process_count(),
               state_lib.param_count(state.g_params),
               state_lib.param_count(state.d_params),
               'resuming' if restored is not None else 'starting', start)

  writer = summaries.Writer(workdir, enabled=main, tensorboard=bool(t.summaries))
  sampler = make_sampler(config, sample_key) if t.sample_every_steps else None
  compiled = {}   # Stage -> jitted train step (one per progressive stage)
  history = []
  warned = set()  # renderer health warnings already given
  last_time, last_step = time.perf_counter(), start
  data = data_iterator(config, start) if start < total else None

  try:
    with StopRequested() as stop, _progress_bar(
        main and bool(t.progress_bar), start, total) as bar:
      step = start
      while step < total:
        stage = train_step_lib.stage_at(config, step)
        if stage not in compiled:
          compiled[stage] = compiled_step(config, mesh, stage)
          if step > 0 or stage.res != int(config.resolution):
            _say(bar, f'step {step}: training stage at resolution {stage.res}')
        batch = distributed.global_batch(next(data), mesh)
        state, metrics = compiled[stage](state, batch)
        metrics = jax.device_get(metrics)
        step += 1
        _check_finite(metrics, step)
        for msg in render_health_warnings(metrics, step, warned):
          logging.warning(msg)
          if bar is not None:
            bar.write(msg)
        history.append(metrics)

        if bar is not None:
          bar.update(1)
          bar.set_postfix(d=f'{metrics["d_loss"]:.3f}', g=f'{metrics["g_loss"]:.3f}',
                          refresh=False)
        if step % t.log_every_steps == 0 or step == total:
          now = time.perf_counter()
          ips = (step - last_step) * t.batch_size / max(now - last_time, 1e-9)
          last_time, last_step = now, step
          scalars = _mean_metrics(history)
          scalars['images_per_sec'] = ips
          scalars['kimg'] = step * t.batch_size / 1000.0
          scalars['resolution'] = stage.res
          history = []
          writer.scalars(step, scalars)
          if bar is not None:
            bar.set_postfix(d=f'{scalars["d_loss"]:.3f}',
                            g=f'{scalars["g_loss"]:.3f}', img_s=f'{ips:.1f}')
          else:
            logging.info('step %d: %s', step,
                         ', '.join(f'{k}={v:.4g}' for k, v in scalars.items()))
        if sampler is not None and main and (
            step % t.sample_every_steps == 0 or step == total):
          rows = jax.device_get(sampler(state.g_ema_params,
                                        stage.res if stage.res != int(config.resolution)
                                        else None,
                                        jnp.float32(metrics['fade_alpha'])))
          order = [k for k in rows if k.startswith('image')] + \
                  [k for k in rows if k.startswith('normals')] + \
                  ['texture', 'background']
          writer.images(step, {'samples/ema': summaries.image_grid(
              [rows[k] for k in order])})
          writer.flush()

        stopping = distributed.any_process(stop.requested)
        if step % t.checkpoint_every_steps == 0 or step == total or stopping:
          if checkpoint.save(manager, state):
            _say(bar, f'saved checkpoint of step {step} to {manager.directory}')
        if stopping:
          _say(bar, f'stopped by signal at step {step}; resume with the same '
               '--workdir')
          break
  finally:
    writer.close()
    manager.close()
  return state
