r"""Evaluates a trained run: ``python -m launch.evaluate --config=C --workdir=DIR``.

  python -m launch.evaluate --config=configs/synthetic.py --workdir=/tmp/syn
  python -m launch.evaluate --config=configs/synthetic.py --workdir=/tmp/syn \
      --step=5000 --num_samples=2000 --inception_weights=/data/inception.npz

Restores the latest (or ``--step``) checkpoint, samples the EMA generator and
prints a table: SWD against real images (FID / KID with
``--inception_weights``), and on the synthetic data set the 3D metrics with
the flat-disc, sphere-cap and untrained-generator baselines. Writes
``DIR/eval/metrics_step{N}.json``. Use the config (and overrides) the run was
trained with; evaluation knobs are ``--config.eval.*`` when the config has an
``eval`` section (see `gan3d.evaluate.eval_config`).
"""

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file(
    'config', None, 'Experiment config file (configs/*.py[:variants]).',
    lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Run directory with checkpoints/.')
_STEP = flags.DEFINE_integer('step', None, 'Checkpoint step (default: latest).')
_NUM_SAMPLES = flags.DEFINE_integer('num_samples', None,
                                    'Generated samples per model (default eval.num_samples).')
_BATCH = flags.DEFINE_integer('batch_size', None, 'Samples per generator call.')
_INCEPTION = flags.DEFINE_string(
    'inception_weights', None, 'InceptionV3 .npz (gan3d.eval.convert_inception); '
    'FID/KID only when given.')
_NO_BASELINES = flags.DEFINE_bool('skip_baselines', False,
                                  'Skip the untrained/disc/sphere-cap baselines.')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  from gan3d import evaluate  # pylint: disable=g-import-not-at-top
  overrides = {'batch_size': _BATCH.value}
  if _NO_BASELINES.value:
    overrides['baselines'] = False
  result = evaluate.evaluate(_CONFIG.value, _WORKDIR.value, step=_STEP.value,
                             num_samples=_NUM_SAMPLES.value,
                             inception_weights=_INCEPTION.value, **overrides)
  print(evaluate.format_table(result))
  print(f"\nwrote {result['json_path']}")
  logging.info('metrics written to %s', result['json_path'])


if __name__ == '__main__':
  app.run(main)
