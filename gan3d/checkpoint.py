"""Checkpoints of the full `TrainState` with orbax.

* `make_manager`: an `orbax.checkpoint.CheckpointManager` in
  ``<workdir>/checkpoints`` keeping the last ``config.train.keep_checkpoints``
  steps. Orbax writes each step into a temporary directory and renames it when
  complete, so a run killed mid-write never leaves a half checkpoint that
  would be picked up as the latest.
* `save`: refuses (raises) to write a state with non-finite values, so the
  last good checkpoint is never replaced by a corrupted one.
* `restore_latest`: restores into the structure and shardings of a template
  state (both networks, EMA, optimisers, w_avg, pl_mean, step, base RNG).
* `write_run_config` / `check_run_config`: ``<workdir>/config.json``, the
  config the run was trained with; resuming, evaluating or sampling with a
  config that builds a different model fails with the differing keys.
"""

from __future__ import annotations

import json
import os
from typing import Optional

from absl import logging
import flax
import jax
import orbax.checkpoint as ocp

from gan3d import state as state_lib


class NonFiniteStateError(FloatingPointError):
  """The state holds NaN/Inf; it must not be checkpointed."""


def make_manager(workdir: str, keep: int) -> ocp.CheckpointManager:
  """Manager for ``<workdir>/checkpoints`` keeping the last ``keep`` steps.

  Saving is synchronous (the state is donated to the next step right after,
  and a preemption save must be complete before the process exits).
  """
  options = ocp.CheckpointManagerOptions(
      max_to_keep=keep, create=True, enable_async_checkpointing=False,
      cleanup_tmp_directories=True)
  return ocp.CheckpointManager(
      os.path.abspath(os.path.join(workdir, 'checkpoints')), options=options)


def save(manager: ocp.CheckpointManager, state: state_lib.TrainState,
         force: bool = False) -> bool:
  """Saves ``state`` at its step; returns True if written.

  Raises `NonFiniteStateError` (and writes nothing) if any float in the state
  is NaN or Inf. A step that already has a checkpoint is skipped.
  """
  if not bool(jax.device_get(_all_finite(state))):
    raise NonFiniteStateError(
        f'refusing to checkpoint step {int(state.step)}: the state holds '
        'NaN/Inf values; the last good checkpoint is kept')
  step = int(jax.device_get(state.step))
  if step in manager.all_steps():
    return False
  tree = flax.serialization.to_state_dict(state)
  saved = manager.save(step, args=ocp.args.StandardSave(tree), force=force)
  manager.wait_until_finished()
  return bool(saved)


def restore_latest(manager: ocp.CheckpointManager,
                   template: state_lib.TrainState
                   ) -> Optional[state_lib.TrainState]:
  """The latest checkpoint restored like ``template`` (shapes, dtypes,
  shardings), or None if there is none."""
  step = manager.latest_step()
  if step is None:
    return None
  target = flax.serialization.to_state_dict(template)
  abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, target)
  restored = manager.restore(step, args=ocp.args.StandardRestore(abstract))
  state = flax.serialization.from_state_dict(template, restored)
  logging.info('restored checkpoint of step %d from %s', step,
               manager.directory)
  return state


@jax.jit
def _all_finite(state):
  return state_lib.all_finite(state)


# ----------------------------------------------------------------------------
# The config a run was trained with, next to its checkpoints.

RUN_CONFIG_FILE = 'config.json'
# Sections that define the trained model: evaluating or resuming a checkpoint
# with other values would silently use a different generator (e.g. eq 14 on
# instead of off), so a mismatch is an error. Other sections (train, data,
# eval, sample) may change between runs of the same workdir. A run config
# without a 'light' section (before 2026-11-27) was trained unlit.
MODEL_SECTIONS = ('resolution', 'model', 'render', 'viewpoint', 'light')
# Keys of those sections that only shape the initial parameters: a checkpoint
# is the same generator whatever they were (and older run configs lack them).
INIT_ONLY_KEYS = ('model.shape_init_scale',)
# Keys added later whose value here reproduces the older runs' behaviour: a
# record without the key matches a config with that value.
ADDED_KEYS = {'model.base_template': '', 'model.shape_branch': 'shared', 'light.tilt_deg': 0.0,
              'model.texture_offset': 0.0, 'light.leak': 0.0,
              'light.bounded_albedo': False, 'render.supersample': 1,
              'model.base_wrap_deg': 120.0, 'model.learned_base_mult': 0.0,
              'model.learned_base_res': 0, 'model.skip_pad': 'zero'}


def _model_part(d: dict) -> dict:
  return {k: d[k] for k in MODEL_SECTIONS if k in d}


def flatten_dict(d: dict, prefix: str = '') -> dict:
  """Nested dict -> {'a.b.c': leaf}."""
  out = {}
  for k, v in d.items():
    if isinstance(v, dict):
      out.update(flatten_dict(v, f'{prefix}{k}.'))
    else:
      out[f'{prefix}{k}'] = v
  return out


def check_run_config(config, workdir: str) -> None:
  """Raises ValueError naming each key of ``MODEL_SECTIONS`` on which
  ``config`` differs from ``<workdir>/config.json`` (written by
  `write_run_config` when the run was trained). No file: nothing to check
  (runs made before 2026-11-26 have none)."""
  path = os.path.join(workdir, RUN_CONFIG_FILE)
  if not os.path.exists(path):
    return
  with open(path) as fh:
    trained_raw = json.load(fh)
  given_raw = json.loads(config.to_json_best_effort())
  if 'light' not in trained_raw and given_raw.get('light', {}).get('model') == 'none':
    given_raw.pop('light')
  trained = flatten_dict(_model_part(trained_raw))
  given = flatten_dict(_model_part(given_raw))
  for k in INIT_ONLY_KEYS:
    trained.pop(k, None)
    given.pop(k, None)
  for k, old in ADDED_KEYS.items():
    if k not in trained and given.get(k) == old:
      given.pop(k)
  diff = [f'{k}: trained with {trained.get(k, "<absent>")!r}, given '
          f'{given.get(k, "<absent>")!r}'
          for k in sorted(set(trained) | set(given)) if trained.get(k) != given.get(k)]
  if diff:
    raise ValueError(
        f'the config differs from the one {workdir!r} was trained with '
        f'({path}): ' + '; '.join(diff) + '. Pass the same config and '
        'overrides as for training (e.g. --config.model.KEY=VALUE), or, if '
        'the change is intended (e.g. a larger render.window), delete that '
        'file.')


def write_text_atomic(path: str, text: str) -> None:
  """Writes ``text`` to ``path`` through a temporary file and a rename, so
  that a crash never leaves a half-written file; creates the folder."""
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  tmp = f'{path}.tmp.{os.getpid()}'
  with open(tmp, 'w') as fh:
    fh.write(text)
  os.replace(tmp, path)


def write_run_config(config, workdir: str) -> str:
  """Checks ``config`` against ``<workdir>/config.json`` (`check_run_config`)
  and writes the full config there, atomically. Returns the path."""
  check_run_config(config, workdir)
  path = os.path.join(workdir, RUN_CONFIG_FILE)
  write_text_atomic(path, config.to_json_best_effort(indent=2, sort_keys=True))
  return path
