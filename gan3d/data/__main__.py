"""Builds a data set ahead of training: `python -m gan3d.data --variant=...`.

Examples:
  python -m gan3d.data --variant=synthetic --resolution=64
  python -m gan3d.data --variant=ffhq --path=~/data/ffhq/images1024x1024 \
      --resolution=128
  python -m gan3d.data --variant=folder --path=~/photos --resolution=64

Prints the build time and the split sizes. Nothing is downloaded.
"""
import time

from absl import app
from absl import flags
import ml_collections

from gan3d.data import defaults
from gan3d.data import pipeline

_VARIANT = flags.DEFINE_enum('variant', 'synthetic', list(defaults.VARIANTS),
                             'which data set to build')
_RES = flags.DEFINE_integer('resolution', 64, 'image size N')
_DATA_DIR = flags.DEFINE_string('data_dir', None,
                                'output folder (default: config default)')
_PATH = flags.DEFINE_string('path', '', 'source image folder (ffhq, folder)')
_NUM_TRAIN = flags.DEFINE_integer('num_train', None, 'synthetic: train size')
_NUM_TEST = flags.DEFINE_integer('num_test', None, 'synthetic: test size')
_SEED = flags.DEFINE_integer('seed', None, 'synthetic: generation seed')


def main(argv):
  del argv
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.resolution = _RES.value
  config.data = defaults.data_config(_VARIANT.value)
  config.data.path = _PATH.value
  if _DATA_DIR.value:
    config.data.data_dir = _DATA_DIR.value
  for flag, name in ((_NUM_TRAIN, 'num_train'), (_NUM_TEST, 'num_test'),
                     (_SEED, 'seed')):
    if flag.value is not None:
      setattr(config.data.synthetic, name, flag.value)
  start = time.time()
  builder = pipeline.get_builder(config)
  print(f'{builder.name}/{builder.builder_config.name} ready in '
        f'{time.time() - start:.1f} s at {builder.data_dir}')
  for split, info in builder.info.splits.items():
    print(f'  {split}: {info.num_examples} examples')


if __name__ == '__main__':
  app.run(main)
