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
"""

from __future__ import annotations

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
