"""Tests of gan3d.export.sheets (figure sheets, GIF) with the documented layout."""
import numpy as np
import pytest
from PIL import Image

from gan3d.export import sheets

B, N, V = 2, 8, 5


def _inputs():
  rng = np.random.default_rng(0)
  images = rng.uniform(-1, 1, (B, N, N, 3)).astype(np.float32)
  n = rng.normal(size=(B, N, N, 3))
  normals = (n / np.linalg.norm(n, axis=-1, keepdims=True)).astype(np.float32)
  textures = rng.uniform(-1, 1, (B, 2 * N, 2 * N, 3)).astype(np.float32)
  backgrounds = rng.uniform(-1, 1, (B, 2 * N, 2 * N, 3)).astype(np.float32)
  views = rng.uniform(-1, 1, (B, V, N, N, 3)).astype(np.float32)
  return images, normals, textures, backgrounds, views


@pytest.mark.parametrize('pad', [0, 2, 3])
def test_sample_sheet_layout_and_tiles(pad):
  images, normals, textures, backgrounds, views = _inputs()
  sheet = sheets.sample_sheet(images, normals, textures, backgrounds, views, pad=pad)
  assert sheet.dtype == np.uint8
  assert sheet.shape == (B * N + (B + 1) * pad, (4 + V) * N + (5 + V) * pad, 3)
  for b in range(B):
    np.testing.assert_array_equal(sheets.tile_at(sheet, b, 0, N, pad), sheets.to_uint8(images[b]))
    np.testing.assert_array_equal(sheets.tile_at(sheet, b, 1, N, pad),
                                  sheets.to_uint8(normals[b]))
    # Textures / backgrounds are 2N: box-downsampled (mean of 2x2 blocks).
    tex = sheets.to_uint8(textures[b]).astype(float).reshape(N, 2, N, 2, 3).mean((1, 3))
    np.testing.assert_allclose(sheets.tile_at(sheet, b, 2, N, pad), tex, atol=0.51)
    for v in range(V):
      np.testing.assert_array_equal(sheets.tile_at(sheet, b, 4 + v, N, pad),
                                    sheets.to_uint8(views[b, v]))
  if pad:
    assert np.all(sheet[:pad] == 255) and np.all(sheet[:, :pad] == 255)


def test_normals_to_rgb_mapping():
  n = np.array([[[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
  np.testing.assert_array_equal(sheets.normals_to_rgb(n)[0],
                                [[128, 128, 255], [255, 128, 128], [128, 128, 128]])


def test_interpolation_sheet_and_tile_size(tmp_path):
  views = np.random.default_rng(1).uniform(-1, 1, (4, 3, N, N, 3)).astype(np.float32)
  sheet = sheets.interpolation_sheet(views, tile=16, pad=1)
  assert sheet.shape == (4 * 16 + 5, 3 * 16 + 4, 3)
  path = sheets.save_png(sheet, str(tmp_path / 'interp.png'))
  np.testing.assert_array_equal(np.asarray(Image.open(path)), sheet)


def test_viewpoints():
  vp = sheets.canonical_viewpoints()
  np.testing.assert_allclose(np.rad2deg(vp[:, 0]), [-90, -45, 0, 45, 90], atol=1e-4)
  np.testing.assert_allclose(vp[:, 1], 0.0)
  tt = sheets.turntable_viewpoints(8)
  assert tt.shape == (8, 2)
  np.testing.assert_allclose(np.rad2deg([tt[0, 0], tt[4, 0]]), [-90, 90], atol=1e-4)


def test_gif(tmp_path):
  frames = np.stack([np.full((N, N, 3), v, np.float32) for v in np.linspace(-1, 1, 6)])
  path = sheets.save_gif(frames, str(tmp_path / 'turn.gif'), duration_ms=50)
  im = Image.open(path)
  assert im.n_frames == 6 and im.size == (N, N)
  im.seek(5)
  assert np.asarray(im.convert('RGB'))[0, 0, 0] == 255


def test_bad_inputs():
  images, normals, textures, backgrounds, views = _inputs()
  with pytest.raises(ValueError, match='views'):
    sheets.sample_sheet(images, normals, textures, backgrounds, views[:, 0])
  with pytest.raises(ValueError, match='rectangular'):
    sheets.grid_sheet([[images[0]], []], tile=N)
  with pytest.raises(ValueError, match='NaN'):
    sheets.to_uint8(np.full((2, 2, 3), np.nan))


def test_render_views_with_renderer():
  render = pytest.importorskip('gan3d.render')
  n = 8
  s = render.topology.grid_disc(n, 0.8)
  verts = s.reshape(-1, 3)
  faces = render.topology.grid_faces(n)
  uv = render.topology.grid_uv(n)
  texture = -np.ones((2 * n, 2 * n, 3), np.float32)            # black object
  settings = render.RenderSettings(height=16, width=16, camera_distance=4.0, window=6)
  out = np.asarray(sheets.render_views(verts, faces, uv, texture,
                                       sheets.canonical_viewpoints(), settings))
  assert out.shape == (5, 16, 16, 3) and np.all(np.isfinite(out))
  dark = (out < 0).all(-1).sum(axis=(1, 2))
  # Frontal view shows the whole disc; at +-90 degrees the flat disc is edge-on.
  assert dark[2] > 80 and dark[0] < 20 and dark[4] < 20
