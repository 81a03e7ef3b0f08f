"""Multi-device and multi-host plumbing: initialisation, mesh, shardings.

Data parallelism with `jax.jit` over a one-axis `jax.sharding.Mesh` named
``'data'``: parameters and optimiser states are replicated, batches are split
along their leading axis. Each host (process) feeds only its own slice of the
global batch (``process_index`` / ``process_count`` are passed to the data
pipeline); `global_batch` assembles the per-host slices into one global array.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Optional

from absl import logging
import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = 'data'

# Environment variables read when the launcher's flags are not given.
ENV_COORDINATOR = 'JAX_COORDINATOR_ADDRESS'
ENV_NUM_PROCESSES = 'JAX_NUM_PROCESSES'
ENV_PROCESS_ID = 'JAX_PROCESS_ID'


def initialize(coordinator_address: Optional[str] = None,
               num_processes: Optional[int] = None,
               process_id: Optional[int] = None,
               cpu_collectives: str = 'gloo') -> bool:
  """Starts `jax.distributed` when asked to; returns True if it did.

  Arguments fall back to the environment (``JAX_COORDINATOR_ADDRESS``,
  ``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID``). With neither flags nor
  environment this is a single-process run and nothing happens. On CPU the
  cross-process collectives need an implementation (``gloo``); it must be set
  before the backend starts, i.e. before any other JAX call.
  """
  coordinator_address = coordinator_address or os.environ.get(ENV_COORDINATOR)
  if num_processes is None and ENV_NUM_PROCESSES in os.environ:
    num_processes = int(os.environ[ENV_NUM_PROCESSES])
  if process_id is None and ENV_PROCESS_ID in os.environ:
    process_id = int(os.environ[ENV_PROCESS_ID])
  if not coordinator_address:
    if num_processes not in (None, 1):
      raise ValueError(
          f'num_processes={num_processes} needs --coordinator_address '
          f'(or ${ENV_COORDINATOR})')
    return False
  if num_processes is None or process_id is None:
    raise ValueError('--coordinator_address needs --num_processes and '
                     '--process_id (or $JAX_NUM_PROCESSES / $JAX_PROCESS_ID)')
  if not 0 <= process_id < num_processes:
    raise ValueError(f'process_id={process_id} must be in [0, {num_processes})')
  if cpu_collectives:
    jax.config.update('jax_cpu_collectives_implementation', cpu_collectives)
  jax.distributed.initialize(coordinator_address=coordinator_address,
                             num_processes=num_processes,
                             process_id=process_id)
  logging.info('jax.distributed: process %d/%d, %d local / %d global devices',
               jax.process_index(), jax.process_count(),
               jax.local_device_count(), jax.device_count())
  return True


def make_mesh(devices: Optional[np.ndarray] = None) -> Mesh:
  """A 1-D mesh over all (global) devices with the axis ``'data'``."""
  devices = np.asarray(jax.devices() if devices is None else devices)
  return Mesh(devices.reshape(-1), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def data_sharded(mesh: Mesh) -> NamedSharding:
  """Leading (batch) axis split over the data axis."""
  return NamedSharding(mesh, P(DATA_AXIS))


def local_batch_size(global_batch_size: int) -> int:
  """Per-process batch size; the global batch must split evenly."""
  count = jax.process_count()
  if global_batch_size % count:
    raise ValueError(f'train.batch_size={global_batch_size} is not divisible by '
                     f'the number of processes {count}')
  return global_batch_size // count


def global_batch(local: Mapping[str, np.ndarray], mesh: Mesh) -> dict[str, Any]:
  """Per-host numpy arrays ``[B_local, ...]`` -> global jax arrays ``[B, ...]``.

  Sharded along the data axis; each process contributes its own rows
  (`jax.make_array_from_process_local_data`).
  """
  sharding = data_sharded(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v))
          for k, v in local.items()}


def replicate(tree: Any, mesh: Mesh) -> Any:
  """Places a pytree of host/device arrays replicated on every device."""
  return jax.device_put(tree, replicated(mesh))


def any_process(flag: bool) -> bool:
  """True if ``flag`` is True on any process (a collective: call everywhere)."""
  if jax.process_count() == 1:
    return bool(flag)
  flags = multihost_utils.process_allgather(np.asarray([flag], np.int32))
  return bool(np.any(flags))


def is_main_process() -> bool:
  return jax.process_index() == 0
