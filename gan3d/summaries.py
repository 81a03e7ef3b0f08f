"""TensorBoard summaries and a JSON-lines metrics log (process 0 only).

Event files are written with TensorFlow's low-level ``tf.summary.write`` op
and the TensorBoard plugin metadata ('scalars', 'images') set by hand, so
only tensorflow-cpu is needed (``tf.summary.scalar``/``image`` would need the
``tensorboard`` package, which is only needed to *view* the logs). TensorFlow
is imported lazily on the first writer so that runs with
``config.train.summaries=False`` do not pay for it. Every
logged scalar is also appended to ``<workdir>/metrics.jsonl`` -- one JSON
object per log step -- which needs nothing and is easy to diff.
"""

from __future__ import annotations

import io
import json
import os
from typing import Mapping, Optional

import numpy as np


class Writer:
  """Writes scalars/images under ``workdir``; a no-op unless ``enabled``.

  Args:
    workdir: run directory; events go to ``workdir/tb``, image grids also to
      ``workdir/samples/<name>_step<N>.png`` (viewable without TensorBoard).
    enabled: False on processes other than 0.
    tensorboard: write TensorBoard events (else only metrics.jsonl).
  """

  def __init__(self, workdir: str, enabled: bool = True,
               tensorboard: bool = True):
    self.enabled = enabled
    self._workdir = workdir
    self._tb = None
    self._jsonl = None
    if not enabled:
      return
    os.makedirs(workdir, exist_ok=True)
    self._jsonl = open(os.path.join(workdir, 'metrics.jsonl'), 'a')
    if tensorboard:
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      tf.config.set_visible_devices([], 'GPU')  # never let TF take the GPU
      from tensorflow.core.framework import summary_pb2  # pylint: disable=g-import-not-at-top
      self._tf = tf
      self._meta = {
          kind: summary_pb2.SummaryMetadata(
              plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=kind))
          for kind in ('scalars', 'images')}
      self._tb = tf.summary.create_file_writer(os.path.join(workdir, 'tb'))

  def scalars(self, step: int, scalars: Mapping[str, float]):
    if not self.enabled:
      return
    values = {k: float(v) for k, v in scalars.items()}
    self._jsonl.write(json.dumps({'step': int(step), **values}) + '\n')
    self._jsonl.flush()
    if self._tb is not None:
      with self._tb.as_default(step=int(step)):
        for k, v in values.items():
          self._tf.summary.write(k, self._tf.constant(v, self._tf.float32),
                                 metadata=self._meta['scalars'])

  def images(self, step: int, images: Mapping[str, np.ndarray]):
    """``images``: name -> ``[H, W, 3]`` float in [0, 1] (e.g. a grid)."""
    if not self.enabled:
      return
    pngs = {k: _encode_png(v) for k, v in images.items()}
    out_dir = os.path.join(self._workdir, 'samples')
    os.makedirs(out_dir, exist_ok=True)
    for k, png in pngs.items():
      path = os.path.join(out_dir, f"{k.replace('/', '_')}_step{int(step):07d}.png")
      with open(path + '.tmp', 'wb') as fh:   # atomic: never a half-written PNG
        fh.write(png)
      os.replace(path + '.tmp', path)
    if self._tb is None:
      return
    with self._tb.as_default(step=int(step)):
      for k, v in images.items():
        png = pngs[k]
        h, w = np.asarray(v).shape[:2]
        self._tf.summary.write(
            k, self._tf.constant([str(w).encode(), str(h).encode(), png]),
            metadata=self._meta['images'])

  def flush(self):
    if self._tb is not None:
      self._tb.flush()

  def close(self):
    if self._jsonl is not None:
      self._jsonl.close()
      self._jsonl = None
    if self._tb is not None:
      self._tb.close()
      self._tb = None


def _encode_png(image: np.ndarray) -> bytes:
  """``[H, W, 3]`` float in [0, 1] -> PNG bytes."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  u8 = np.round(np.clip(np.asarray(image, np.float32), 0, 1) * 255).astype(np.uint8)
  buf = io.BytesIO()
  Image.fromarray(u8).save(buf, format='PNG')
  return buf.getvalue()


def image_grid(rows: list[np.ndarray], pad: int = 1) -> np.ndarray:
  """Tiles ``rows`` (each ``[B, H, W, 3]`` in [0, 1]) into one image.

  Returns ``[R*(H+pad)-pad... , B*(W+pad), 3]``: one row per entry.
  """
  out = []
  for r in rows:
    r = np.asarray(r, np.float32)
    b, h, w, c = r.shape
    padded = np.ones((b, h + pad, w + pad, c), np.float32)
    padded[:, :h, :w] = r
    out.append(np.concatenate(list(padded), axis=1))
  return np.concatenate(out, axis=0)


def read_metrics(workdir: str) -> list[dict]:
  """The rows of ``workdir/metrics.jsonl`` (for tests and analysis)."""
  path = os.path.join(workdir, 'metrics.jsonl')
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def to_unit(x: np.ndarray, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
  """Maps values in [lo, hi] to [0, 1] for display."""
  return np.clip((np.asarray(x, np.float32) - lo) / (hi - lo), 0.0, 1.0)


def normals_to_rgb(normals: np.ndarray, mask: Optional[np.ndarray] = None
                   ) -> np.ndarray:
  """Unit normals ``[..., 3]`` in [-1, 1] -> RGB in [0, 1] (0.5 grey where
  ``mask`` is 0)."""
  rgb = to_unit(normals)
  if mask is not None:
    m = np.asarray(mask, np.float32)[..., None]
    rgb = rgb * m + 0.5 * (1 - m)
  return rgb
