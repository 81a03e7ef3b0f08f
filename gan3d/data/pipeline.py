"""Training iterator and evaluation ground truth on top of the tfds builders.

Reading uses tfds random-access data sources over the array_record files
(`builder.as_data_source`); a background thread prepares `config.data.prefetch`
batches ahead. Everything is a deterministic function of config.seed, the
process index and the step.
"""
from __future__ import annotations

import queue
import threading
from typing import Iterator

import numpy as np

from gan3d.data import folder
from gan3d.data import synthetic
from gan3d.data import tfds_util


def get_builder(config):
  """The built tfds builder for config.data.name (builds it if allowed)."""
  name = config.data.name
  if name == 'synthetic':
    b = synthetic.builder(config)
    return tfds_util.prepare(b, bool(config.data.build_if_missing),
                             'synthetic face set')
  if name in ('ffhq', 'folder'):
    return folder.build(config, bool(config.data.build_if_missing))
  raise ValueError(f"config.data.name={name!r}: expected 'synthetic', 'ffhq' "
                   "or 'folder'")


def host_slice(num: int, process_index: int, process_count: int
               ) -> tuple[int, int]:
  """[lo, hi) of the examples read by one process: disjoint, covering, even."""
  if process_count < 1 or not 0 <= process_index < process_count:
    raise ValueError(f'process_index={process_index} must be in [0, '
                     f'process_count={process_count})')
  return (num * process_index) // process_count, (
      num * (process_index + 1)) // process_count


def local_batch_size(config, process_count: int) -> int:
  """config.train.batch_size // process_count, validated."""
  batch = int(config.train.batch_size)
  if batch < 1:
    raise ValueError(f'config.train.batch_size={batch}: must be >= 1')
  if batch % process_count:
    raise ValueError(f'config.train.batch_size={batch} is not divisible by '
                     f'the number of processes ({process_count})')
  return batch // process_count


def _source(builder, split: str):
  if split not in builder.info.splits:
    raise ValueError(f'split {split!r} not in {builder.name} (has '
                     f'{sorted(builder.info.splits)})')
  return builder.as_data_source(split)


def index_stream(num_local: int, seed: int, process_index: int
                 ) -> Iterator[int]:
  """Endless local indices: a fresh seeded permutation per epoch."""
  epoch = 0
  while True:
    rng = np.random.default_rng([seed, process_index, epoch])
    yield from rng.permutation(num_local).tolist()
    epoch += 1


def make_train_iterator(config, *, process_index: int = 0,
                        process_count: int = 1) -> Iterator[dict]:
  """Endless iterator of training batches for this process.

  Each process reads its own disjoint slice of config.data.split (see
  `host_slice`), shuffles it with a seeded permutation per epoch (config.seed),
  repeats, and batches with drop_remainder: B_local = config.train.batch_size
  // process_count (must divide). Images are converted uint8 -> float32 in
  [-1, 1]. With config.data.flip, each image is flipped horizontally with
  probability 1/2; this is consistent with the paper's viewpoint prior, which
  is symmetric in yaw (section 7: +-45 degrees), so a flipped face is as
  likely as the original.

  Returns:
    iterator of {'image': np.float32 [B_local, N, N, 3]}; the caller puts the
    batches on devices.
  """
  b_local = local_batch_size(config, process_count)
  n = int(config.resolution)
  builder = get_builder(config)
  src = _source(builder, config.data.split)
  lo, hi = host_slice(len(src), process_index, process_count)
  if hi <= lo:
    raise ValueError(f'process {process_index} of {process_count} gets no '
                     f'examples: split {config.data.split!r} has {len(src)}')
  shape = tuple(builder.info.features['image'].shape)
  if shape != (n, n, 3):
    raise ValueError(f'data set images are {shape}, config.resolution={n}')
  seed = int(config.seed)
  flip = bool(config.data.flip)
  prefetch = max(1, int(config.data.prefetch))

  def batches():
    idx = index_stream(hi - lo, seed, process_index)
    step = 0
    while True:
      ids = [lo + next(idx) for _ in range(b_local)]
      images = np.stack([ex['image'] for ex in src.__getitems__(ids)])
      images = images.astype(np.float32) / 127.5 - 1.0
      if flip:
        rng = np.random.default_rng([seed, process_index, step, 1])
        which = rng.random(b_local) < 0.5
        images[which] = images[which, :, ::-1]
      step += 1
      yield {'image': images}

  return _prefetch(batches(), prefetch)


def _prefetch(it: Iterator, size: int) -> Iterator:
  """Runs `it` in a daemon thread, `size` items ahead; re-raises its errors."""
  q: queue.Queue = queue.Queue(maxsize=size)
  sentinel = object()

  def produce():
    try:
      for item in it:
        q.put(item)
    except BaseException as e:  # pylint: disable=broad-except
      q.put((sentinel, e))

  threading.Thread(target=produce, daemon=True).start()
  while True:
    item = q.get()
    if isinstance(item, tuple) and len(item) == 2 and item[0] is sentinel:
      raise item[1]
    yield item


GT_KEYS = ('image', 'depth', 'normals', 'mask', 'coverage', 'viewpoint',
           'canonical_depth', 'canonical_points', 'index')


def load_synthetic_ground_truth(config, split: str = 'test',
                                num: int | None = None) -> dict:
  """The first `num` examples (all if None) of a synthetic split, stacked.

  Returns numpy arrays (N = config.resolution, P = synthetic.num_points):
    image [num, N, N, 3] float32 in [-1, 1]; depth [num, N, N] float32 (+inf
    off-object); normals [num, N, N, 3] float32 (camera space, facing the
    camera; 0 off-object); mask [num, N, N] bool; coverage [num, N, N]
    float32 in [0, 1]; viewpoint [num, 2] float32 radians (yaw, pitch);
    canonical_depth [num, N, N] float32; canonical_points [num, P, 3]
    float32 object space; index [num] int64.
  Builds the set if needed (config.data.build_if_missing), whatever
  config.data.name says.
  """
  b = tfds_util.prepare(synthetic.builder(config),
                        bool(config.data.build_if_missing),
                        'synthetic face set')
  src = _source(b, split)
  total = len(src)
  num = total if num is None else int(num)
  if not 0 < num <= total:
    raise ValueError(f'num={num}: split {split!r} has {total} examples')
  exs = src.__getitems__(list(range(num)))
  out = {k: np.stack([np.asarray(e[k]) for e in exs]) for k in GT_KEYS}
  out['image'] = out['image'].astype(np.float32) / 127.5 - 1.0
  out['normals'] = out['normals'].astype(np.float32)
  out['coverage'] = out['coverage'].astype(np.float32) / 255.0
  out['mask'] = out['mask'].astype(bool)
  return out
