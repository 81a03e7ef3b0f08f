"""gan3d.summaries: metrics.jsonl and sample-grid PNGs in the workdir."""

import os

import numpy as np
from PIL import Image

from gan3d import summaries


def test_image_grids_are_written_as_png_files_without_tensorboard(tmp_path):
  w = summaries.Writer(str(tmp_path), tensorboard=False)
  grid = np.zeros((4, 6, 3), np.float32)
  grid[0, 0] = 1.0
  w.images(12, {'samples/ema': grid})
  w.scalars(12, {'d_loss': 0.5})
  w.close()
  path = tmp_path / 'samples' / 'samples_ema_step0000012.png'
  assert sorted(os.listdir(tmp_path / 'samples')) == [path.name]   # no .tmp left
  img = np.asarray(Image.open(path))
  assert img.shape == (4, 6, 3)
  assert img[0, 0].tolist() == [255, 255, 255] and img[1, 1].tolist() == [0, 0, 0]
  assert summaries.read_metrics(str(tmp_path)) == [{'step': 12, 'd_loss': 0.5}]


def test_disabled_writer_writes_nothing(tmp_path):
  w = summaries.Writer(str(tmp_path / 'run'), enabled=False)
  w.images(1, {'x': np.zeros((2, 2, 3))})
  w.scalars(1, {'a': 1.0})
  w.close()
  assert not os.path.exists(tmp_path / 'run')
