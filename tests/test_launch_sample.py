"""Tests of `gan3d.sample` / `launch.sample` on the tiny config (16 x 16).

Uses the step-0 checkpoint of test_launch_evaluate (made once per process).
"""
import os

import numpy as np
import pytest
from PIL import Image

from gan3d import sample
from gan3d.export import mesh_io
from gan3d.render import topology
from tests.test_launch_evaluate import make_run
from tests.test_launch_evaluate import tiny_config

N = 16
NUM = 3
TILE = 24


@pytest.fixture(scope='module')
def sampled(tmp_path_factory):
  config, workdir = make_run(tmp_path_factory)
  out = str(tmp_path_factory.mktemp('samples'))
  result = sample.sample(config, workdir, out, num=NUM, tile=TILE, gif_frames=4,
                         interp_steps=3, batch_size=4, progress=False)
  return config, out, result


def _sheet_size(rows, cols, tile=TILE, pad=2):
  return rows * tile + (rows + 1) * pad, cols * tile + (cols + 1) * pad


def test_writes_documented_files(sampled):
  _, out, result = sampled
  names = ['samples.png', 'interpolation.png', 'turntable.gif', 'index.html']
  for k in range(NUM):
    names += [f'meshes/sample_{k:03d}.{e}' for e in ('obj', 'mtl', 'png', 'glb')]
  for name in names:
    path = os.path.join(out, name)
    assert os.path.isfile(path) and os.path.getsize(path) > 0, name
  assert result['step'] == 0


def test_sheet_sizes(sampled):
  _, out, _ = sampled
  h, w = _sheet_size(NUM, 4 + 5)                 # image, normals, texture, bg, 5 views
  assert Image.open(os.path.join(out, 'samples.png')).size == (w, h)
  h, w = _sheet_size(3, 5)                       # 3 interpolation steps x 5 views
  assert Image.open(os.path.join(out, 'interpolation.png')).size == (w, h)
  gif = Image.open(os.path.join(out, 'turntable.gif'))
  assert gif.n_frames == 4
  assert gif.size == tuple(reversed(_sheet_size(1, NUM)))


def test_sheet_panels_are_not_blank(sampled):
  _, out, _ = sampled
  sheet = np.asarray(Image.open(os.path.join(out, 'samples.png')).convert('RGB'))
  for c in range(9):
    y, x = 2, 2 + c * (TILE + 2)
    tile = sheet[y:y + TILE, x:x + TILE].astype(np.float64)
    assert tile.std() > 1.0, f'column {c} is uniform'


def test_meshes_reload_with_the_right_counts(sampled):
  _, out, result = sampled
  faces = topology.grid_faces(N)
  used = np.unique(faces)
  for k in range(NUM):
    stem = os.path.join(out, 'meshes', f'sample_{k:03d}')
    obj = mesh_io.read_obj(stem + '.obj')
    glb = mesh_io.read_glb(stem + '.glb')
    for m in (obj, glb):
      assert np.asarray(m['faces']).shape == faces.shape
      assert np.asarray(m['vertices']).shape == (len(used), 3)
    # Object-space vertices of the disc region, unchanged by the export.
    np.testing.assert_allclose(np.asarray(glb['vertices']), result['vertices'][k][used],
                               atol=1e-6)
    np.testing.assert_allclose(np.asarray(obj['vertices']), result['vertices'][k][used],
                               atol=2e-6)
    assert np.asarray(glb['texture']).shape == (2 * N, 2 * N, 3)


def test_html_page_embeds_every_mesh(sampled):
  _, out, _ = sampled
  with open(os.path.join(out, 'index.html'), encoding='utf-8') as fh:
    page = fh.read()
  for k in range(NUM):
    assert f'mesh-canvas-{k}' in page
  assert 'http://' not in page and 'https://' not in page   # self-contained


def test_missing_checkpoint_is_a_clear_error(tmp_path):
  config = tiny_config(str(tmp_path / 'data'))
  with pytest.raises(FileNotFoundError, match='no checkpoint found'):
    sample.sample(config, str(tmp_path / 'none'), str(tmp_path / 'out'), progress=False)


@pytest.mark.parametrize('key,value', [('num', 0), ('gif_frames', 1), ('tile', -1),
                                       ('truncation_psi', float('nan'))])
def test_bad_sample_values_are_rejected(key, value):
  with pytest.raises(ValueError, match=key):
    sample.resolve_sample_config(tiny_config('/nonexistent'), **{key: value})
