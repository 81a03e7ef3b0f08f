r"""Trains gan3d: ``python -m launch.train --config=CONFIG --workdir=DIR``.

  python -m launch.train --config=configs/synthetic.py --workdir=/tmp/syn
  python -m launch.train --config=configs/synthetic.py:tiny \
      --config.train.total_steps=10 --workdir=/tmp/tiny
  python -m launch.train --config=configs/ffhq128.py \
      --config.data.path=/data/ffhq --workdir=/tmp/ffhq128

The same ``--workdir`` resumes from its latest checkpoint. Multi-host: pass
``--coordinator_address=HOST:PORT --num_processes=P --process_id=I`` on every
host (or set $JAX_COORDINATOR_ADDRESS, $JAX_NUM_PROCESSES, $JAX_PROCESS_ID).
SIGTERM / Ctrl-C save a checkpoint and exit.
"""

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from gan3d import distributed

_CONFIG = config_flags.DEFINE_config_file(
    'config', None, 'Experiment config file (configs/*.py[:variants]).',
    lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Run directory (resumed if it '
                               'holds checkpoints).')
_COORDINATOR = flags.DEFINE_string(
    'coordinator_address', None, 'host:port of process 0 for multi-host runs.')
_NUM_PROCESSES = flags.DEFINE_integer('num_processes', None,
                                      'Number of processes (hosts).')
_PROCESS_ID = flags.DEFINE_integer('process_id', None,
                                   'Index of this process in [0, num_processes).')
_CPU_COLLECTIVES = flags.DEFINE_string(
    'cpu_collectives', 'gloo', 'Cross-process collectives on CPU (gloo/mpi).')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  distributed.initialize(_COORDINATOR.value, _NUM_PROCESSES.value,
                         _PROCESS_ID.value, _CPU_COLLECTIVES.value)
  # Imported after jax.distributed so that nothing touches the backend first.
  from gan3d import train  # pylint: disable=g-import-not-at-top
  logging.info('config:\n%s', _CONFIG.value)
  train.train_and_evaluate(_CONFIG.value, _WORKDIR.value)


if __name__ == '__main__':
  app.run(main)
