"""Tests of gan3d.export.html: a self-contained page, checked in headless Chromium."""
import os
import re
import shutil
import subprocess
import tempfile

import numpy as np
import pytest
from PIL import Image

from gan3d.export import html

CANVAS_BG = np.array([32, 36, 40])    # the viewer's clear colour (#202428)


def _mesh(n=16):
  t = np.linspace(-0.9, 0.9, n)
  x, y = np.meshgrid(t, -t)
  z = 0.5 * np.sqrt(np.clip(1 - (x ** 2 + y ** 2) / 0.81, 0, 1))
  idx = np.arange(n * n).reshape(n, n)
  a, b, c, d = idx[:-1, :-1], idx[1:, :-1], idx[:-1, 1:], idx[1:, 1:]
  faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3),
                          np.stack([c, b, d], -1).reshape(-1, 3)])
  j, i = np.meshgrid(np.arange(n), np.arange(n))
  uv = np.stack([(j.ravel() + 0.5) / n, (i.ravel() + 0.5) / n], -1)
  tex = np.zeros((2 * n, 2 * n, 3), np.float32)
  tex[..., 0] = 1.0                                   # red texture
  tex[..., 1:] = -1.0
  return np.stack([x, y, z], -1).reshape(-1, 3), faces, uv, tex


def _page(tmp_path):
  v, f, uv, tex = _mesh()
  images = [(f'sample {k}', np.random.default_rng(k).uniform(-1, 1, (16, 16, 3)))
            for k in range(3)]
  meshes = [html.mesh_payload('red cap', v, f, uv, tex)]
  return html.write_page(str(tmp_path / 'index.html'), 'gan3d <samples>', images, meshes,
                         canvas_size=240, image_size=64)


def test_page_is_self_contained(tmp_path):
  text = open(_page(tmp_path), encoding='utf-8').read()
  assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', text)
  assert 'https://' not in text and 'http://' not in text
  assert text.count('data:image/png;base64,') == 4     # 3 samples + 1 texture
  assert 'gan3d &lt;samples&gt;' in text                # escaped title
  assert 'mesh-canvas-0' in text and 'pointermove' in text


def _chromium():
  for name in ('chromium', 'chromium-browser', 'google-chrome'):
    path = shutil.which(name)
    if path:
      return path
  return None


def _run(browser, args, url):
  cmd = [browser, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
         '--no-first-run', '--disable-background-networking', '--disable-component-update',
         '--disable-sync', f'--user-data-dir={tempfile.mkdtemp()}', '--window-size=800,700',
         '--virtual-time-budget=3000'] + args + [url]
  return subprocess.run(cmd, capture_output=True, timeout=120, text=True)


def test_page_renders_in_headless_chromium(tmp_path):
  browser = _chromium()
  if browser is None:
    pytest.skip('chromium not installed (apt-get install -y chromium); cannot screenshot')
  url = 'file://' + os.path.abspath(_page(tmp_path))
  shot = str(tmp_path / 'shot.png')
  _run(browser, [f'--screenshot={shot}'], url)
  assert os.path.exists(shot), 'chromium wrote no screenshot'
  img = np.asarray(Image.open(shot).convert('RGB')).astype(int)
  # The canvas: pixels with the viewer's clear colour; the mesh: red pixels
  # inside the canvas' bounding box.
  bg = np.all(np.abs(img - CANVAS_BG) <= 2, axis=-1)
  assert bg.sum() > 2000, 'no viewer canvas visible'
  ys, xs = np.nonzero(bg)
  box = img[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
  red = (box[..., 0] > 90) & (box[..., 1] < 60) & (box[..., 2] < 60)
  assert red.sum() > 0.15 * box.shape[0] * box.shape[1], 'canvas is blank (no mesh drawn)'
  # The DOM after scripts ran says which renderer drew it.
  dom = _run(browser, ['--dump-dom'], url).stdout
  mode = re.search(r'data-viewer="([^"]*)"', dom)
  assert mode and mode.group(1) in ('WebGL', '2D'), dom[-500:]
