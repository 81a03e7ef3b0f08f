"""Lazy TensorFlow / tensorflow-datasets import and building helpers.

TensorFlow is imported only here, only when a data set is built or read, and is
kept off every GPU (`tf.config.set_visible_devices([], 'GPU')`) so that it
never competes with JAX for accelerator memory.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os


@functools.lru_cache(maxsize=None)
def import_tfds():
  """Imports tensorflow_datasets with TensorFlow hidden from GPUs; returns it."""
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    tf.config.set_visible_devices([], 'GPU')
  except RuntimeError:   # TF already initialised its devices: nothing to hide.
    pass
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  return tfds


def config_hash(obj) -> str:
  """Short stable hash of a JSON-serialisable description of a data set."""
  text = json.dumps(obj, sort_keys=True, default=str)
  return hashlib.sha1(text.encode()).hexdigest()[:10]


def data_dir(config) -> str:
  """`config.data.data_dir` with '~' expanded; must be set."""
  d = config.data.data_dir
  if not d:
    raise ValueError('config.data.data_dir is empty: set it to a local folder '
                     'where data sets are built')
  return os.path.abspath(os.path.expanduser(d))


def prepare(builder, build_if_missing: bool, what: str):
  """Builds `builder` (array_record files) unless already built; no download."""
  tfds = import_tfds()
  if builder.is_prepared():
    return builder
  if not build_if_missing:
    raise FileNotFoundError(
        f'{what} is not built in {builder.data_dir} and '
        'config.data.build_if_missing is False: build it first with '
        '`python -m gan3d.data --config=...` or set build_if_missing=True')
  builder.download_and_prepare(
      file_format='array_record',
      download_config=tfds.download.DownloadConfig(try_download_gcs=False))
  return builder


def progress(total: int, desc: str):
  """A tqdm progress bar, or a minimal stand-in printing to stderr."""
  try:
    import tqdm  # pylint: disable=g-import-not-at-top
    return tqdm.tqdm(total=total, desc=desc, unit='img')
  except ImportError:
    return _SimpleBar(total, desc)


class _SimpleBar:
  """Prints 'desc: k/total' every ~10 percent."""

  def __init__(self, total, desc):
    self.total, self.desc, self.n, self._next = total, desc, 0, 0

  def update(self, k):
    import sys  # pylint: disable=g-import-not-at-top
    self.n += k
    if self.n >= self._next or self.n >= self.total:
      print(f'{self.desc}: {self.n}/{self.total}', file=sys.stderr, flush=True)
      self._next = self.n + max(1, self.total // 10)

  def close(self):
    pass

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()
