"""Tests of the synthetic face data set (gan3d.data.synthetic, faces, pipeline).

One small set (24 train + 8 test images at 32 x 32) is built once per session
into a temporary folder.
"""
import dataclasses

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gan3d import data
from gan3d.data import faces
from gan3d.data import pipeline
from gan3d.data import synthetic

N = 32


def make_config(tmp, **synth):
  c = ml_collections.ConfigDict()
  c.seed = 3
  c.resolution = N
  c.train = ml_collections.ConfigDict({'batch_size': 8})
  c.data = data.data_config('synthetic')
  c.data.data_dir = str(tmp)
  c.data.synthetic.num_train = 24
  c.data.synthetic.num_test = 8
  c.data.synthetic.gen_batch_size = 8
  c.data.synthetic.num_points = 64
  for k, v in synth.items():
    setattr(c.data.synthetic, k, v)
  return c


@pytest.fixture(scope='session')
def built(tmp_path_factory):
  config = make_config(tmp_path_factory.mktemp('synth'))
  return config, pipeline.get_builder(config)


@pytest.fixture(scope='session')
def gt(built):
  config, _ = built
  return pipeline.load_synthetic_ground_truth(config, 'train')


def test_splits_and_shapes(built, gt):
  config, b = built
  assert b.info.splits['train'].num_examples == 24
  assert b.info.splits['test'].num_examples == 8
  p = config.data.synthetic.num_points
  expect = {'image': ((24, N, N, 3), np.float32),
            'depth': ((24, N, N), np.float32),
            'normals': ((24, N, N, 3), np.float32),
            'mask': ((24, N, N), np.bool_),
            'coverage': ((24, N, N), np.float32),
            'viewpoint': ((24, 2), np.float32),
            'canonical_depth': ((24, N, N), np.float32),
            'canonical_points': ((24, p, 3), np.float32)}
  for k, (shape, dtype) in expect.items():
    assert gt[k].shape == shape, k
    assert gt[k].dtype == dtype, k
  assert sorted(gt['index']) == list(range(24))


def test_value_ranges(gt):
  assert gt['image'].min() >= -1 and gt['image'].max() <= 1
  yaw, pitch = np.rad2deg(gt['viewpoint']).T
  assert np.all(np.abs(yaw) <= 45) and np.all(np.abs(pitch) <= 15)
  assert yaw.std() > 10          # spread over the prior, not constant
  m = gt['mask']
  # Object covers a good part of the image but not all of it.
  frac = m.mean(axis=(1, 2))
  assert np.all(frac > 0.15) and np.all(frac < 0.9)
  d = gt['depth'][m]
  dist = 4.0                     # camera_distance default
  assert np.all(d > dist - 1) and np.all(d < dist + 1)
  nrm = gt['normals'][m]
  np.testing.assert_allclose(np.linalg.norm(nrm, axis=-1), 1, atol=5e-3)
  # Normals face the camera (camera at +z).
  assert np.mean(nrm[:, 2] > 0) > 0.97
  pts = gt['canonical_points']
  assert np.all(np.linalg.norm(pts, axis=-1) <= 1.0 + 1e-5)


def test_ground_truth_consistent_with_image(gt):
  m = gt['mask']
  np.testing.assert_array_equal(np.isfinite(gt['depth']), m)
  np.testing.assert_array_equal(np.any(gt['normals'] != 0, -1), m)
  np.testing.assert_array_equal(gt['coverage'] >= 0.5 - 1e-6, m)
  cm = np.isfinite(gt['canonical_depth'])
  assert np.all(cm.mean(axis=(1, 2)) > 0.15)
  # Canonical points project into the canonical mask (frontal view).
  settings_d = 4.0
  f = np.sqrt(settings_d ** 2 - 1)
  for pts, mask in zip(gt['canonical_points'], cm):
    x = N / 2 + N / 2 * f * pts[:, 0] / (settings_d - pts[:, 2])
    y = N / 2 - N / 2 * f * pts[:, 1] / (settings_d - pts[:, 2])
    j = np.clip(np.floor(x).astype(int), 0, N - 1)
    i = np.clip(np.floor(y).astype(int), 0, N - 1)
    # A sub-pixel point may sit in a pixel with coverage < 1/2.
    assert mask[i, j].mean() > 0.9


def test_image_agrees_with_mask():
  """Off-object pixels show the background; on-object pixels differ from it."""
  config = make_config('/nonexistent')
  spec = synthetic.spec_from_config(config)
  out = jax.device_get(synthetic.render_batch(
      synthetic.example_keys(0, 'train', np.arange(8)), spec))
  assert int(np.max(out['overflow'])) == 0
  for b in range(8):
    cov, img, bg = out['coverage'][b], out['image'][b], out['background'][b]
    np.testing.assert_allclose(img[cov == 0], bg[cov == 0], atol=1e-6)
    inside = cov == 1
    differs = np.abs(img[inside] - bg[inside]).max(-1) > 1e-3
    assert differs.mean() > 0.95
    # Background is never a plain colour.
    assert bg.std(axis=(0, 1)).max() > 0.02


def test_deterministic_and_batch_independent():
  """Examples depend on (seed, split, index) only, not on their batch."""
  config = make_config('/nonexistent')
  spec = synthetic.spec_from_config(config)
  a = dict(synthetic.generate(spec, 7, 'test', 5, 8, show_progress=False))
  assert sorted(a) == list(range(5))
  perm = np.array([6, 3, 0, 7, 1, 2, 4, 5])         # same batch size: no
  keys = synthetic.example_keys(7, 'test', perm)    # recompilation
  b = jax.device_get(synthetic.render_batch(keys, spec))
  for pos, i in enumerate(perm):
    if i < 5:
      rec = synthetic.to_record({k: v[pos] for k, v in b.items()}, int(i))
      for k in rec:
        np.testing.assert_array_equal(a[i][k], rec[k], err_msg=k)
  c = dict(synthetic.generate(spec, 8, 'test', 5, 8, show_progress=False))
  for i in range(5):
    assert not np.array_equal(a[i]['image'], c[i]['image'])


def test_builder_is_deterministic(built, tmp_path):
  config, b = built
  config2 = make_config(tmp_path)
  assert synthetic.builder_name(config2) == b.builder_config.name
  gt1 = pipeline.load_synthetic_ground_truth(config, 'test')
  gt2 = pipeline.load_synthetic_ground_truth(config2, 'test')
  for k in gt1:
    np.testing.assert_array_equal(gt1[k], gt2[k], err_msg=k)


@pytest.mark.slow
def test_overflow_grows_window():
  config = make_config('/nonexistent', window=1, canonical_window=1)
  spec = synthetic.spec_from_config(config)
  keys = synthetic.example_keys(0, 'train', np.arange(2))
  small = synthetic.render_without_overflow(keys, spec)
  ref = jax.device_get(synthetic.render_batch(
      keys, dataclasses.replace(spec, window=8, canonical_window=8)))
  np.testing.assert_allclose(small['image'], ref['image'], atol=1e-6)


@pytest.mark.parametrize('name,value', [
    ('yaw_range_deg', (10.0, -10.0)), ('bg_noise_strength', (0.0, 0.1)),
    ('fit_radius', 1.5), ('num_points', 10 ** 7), ('light_frame', 'sun'),
    ('light_tilt_deg', -100.0)])
def test_bad_config(name, value):
  config = make_config('/nonexistent', **{name: value})
  with pytest.raises(ValueError, match=name):
    synthetic.spec_from_config(config)


def test_light_frame():
  """'object' light turns with the face: the same image as the camera light
  at the canonical view, a different one elsewhere; the default keeps the
  data set's name of before the knob."""
  def images(frame, yaw):
    config = make_config('/nonexistent', light_frame=frame, yaw_range_deg=(yaw, yaw),
                         pitch_range_deg=(0.0, 0.0), light_spread_deg=30.0)
    spec = synthetic.spec_from_config(config)
    keys = synthetic.example_keys(0, 'train', np.arange(4))
    return np.asarray(synthetic.render_batch(keys, spec)['image'])
  np.testing.assert_allclose(images('object', 0.0), images('camera', 0.0), atol=1e-6)
  assert np.abs(images('object', 40.0) - images('camera', 40.0)).max() > 0.02
  old = make_config('/nonexistent')
  del old.data.synthetic['light_frame']
  assert (synthetic.builder_name(old)
          == synthetic.builder_name(make_config('/nonexistent', light_frame='camera'))
          != synthetic.builder_name(make_config('/nonexistent', light_frame='object')))
  del old.data.synthetic['light_tilt_deg']
  assert (synthetic.builder_name(old)
          == synthetic.builder_name(make_config('/nonexistent', light_tilt_deg=0.0))
          != synthetic.builder_name(make_config('/nonexistent', light_tilt_deg=30.0)))


def test_light_tilt_lights_the_top():
  """light_tilt_deg turns the light up: at the canonical view with a light
  of no spread, the upper half of each face gets brighter relative to its
  lower half than with the light on the view axis."""
  def top_over_bottom(tilt):
    config = make_config('/nonexistent', light_tilt_deg=tilt, light_spread_deg=0.0,
                         yaw_range_deg=(0.0, 0.0), pitch_range_deg=(0.0, 0.0))
    out = jax.device_get(synthetic.render_batch(
        synthetic.example_keys(0, 'train', np.arange(4)), synthetic.spec_from_config(config)))
    img, cov = out['image'].mean(-1), out['coverage'] == 1
    h = N // 2
    return np.array([img[b, :h][cov[b, :h]].mean() / img[b, h:][cov[b, h:]].mean()
                     for b in range(4)])
  assert np.all(top_over_bottom(60.0) > top_over_bottom(0.0) * 1.1)


def test_relief_scale():
  """render_batch(relief_scale=s) scales the face's object z (a traced
  value: one compilation): 0 puts every canonical surface point on z = 0,
  -1 (the hollow face) changes the photo, 1 is the data set's render."""
  config = make_config('/nonexistent')
  spec = synthetic.spec_from_config(config)
  keys = synthetic.example_keys(0, 'train', np.arange(4))
  ref, flat, hollow = (jax.device_get(synthetic.render_batch(keys, spec, jnp.float32(s)))
                       for s in (1.0, 0.0, -1.0))
  expect = jax.device_get(synthetic.render_batch(keys, spec))
  np.testing.assert_allclose(ref['image'], expect['image'], atol=1e-5)
  assert np.abs(ref['canonical_points'][..., 2]).max() > 0.3
  np.testing.assert_allclose(flat['canonical_points'][..., 2], 0.0, atol=1e-6)
  assert np.abs(hollow['image'] - ref['image']).max() > 0.05
  assert int(np.max(hollow['overflow'])) == 0


def test_bad_resolution():
  config = make_config('/nonexistent')
  config.resolution = 48
  with pytest.raises(ValueError, match='power of two'):
    synthetic.spec_from_config(config)


def test_face_fits_unit_ball_and_varies():
  keys = [jax.random.PRNGKey(i) for i in range(6)]
  make = jax.jit(lambda k: faces.face_vertices(
      faces.sample_face_params(k, faces.DEFAULT_RANGES), 24, 0.85, 0.98))
  verts = [make(k) for k in keys]
  t = np.linspace(-1, 1, 24)
  u, v = np.meshgrid(t, -t)
  disc = (u ** 2 + v ** 2 <= 1).ravel()
  for vv in verts:
    assert np.all(np.linalg.norm(np.asarray(vv)[disc], axis=-1) <= 0.98 + 1e-5)
    assert np.all(np.isfinite(vv))
  assert np.std([np.asarray(vv)[:, 2] for vv in verts], axis=0).max() > 0.02


def test_face_ranges_validated():
  ranges = dict(faces.DEFAULT_RANGES)
  del ranges['nose_height']
  with pytest.raises(ValueError, match='nose_height'):
    faces.sample_face_params(jax.random.PRNGKey(0), ranges)


def test_shear_turns_the_face_down():
  """render_batch(shear=t) adds t y to the face's object z: canonical
  points move by t y, and with t > 0 the canonical normals point down."""
  config = make_config('/nonexistent')
  spec = synthetic.spec_from_config(config)
  keys = synthetic.example_keys(0, 'train', np.arange(2))
  ref, down = (jax.device_get(synthetic.render_batch(keys, spec, jnp.float32(1.0), jnp.float32(t)))
               for t in (0.0, 0.3))
  np.testing.assert_allclose(ref['image'], jax.device_get(synthetic.render_batch(keys, spec))['image'],
                             atol=1e-5)
  ny = lambda ex: (ex['normals'][..., 1] * ex['mask']).sum() / ex['mask'].sum()
  assert abs(ny(ref)) < 0.1 and ny(down) < ny(ref) - 0.1
  assert np.abs(down['image'] - ref['image']).max() > 0.05


def test_photos_of_one_face():
  """photos_of(key, spec, u) photographs the face of example ``key``: with
  that example's own draw of u it reproduces the data set's image; other
  draws give other views of the same face and background (the corners,
  background in every view here, agree)."""
  config = make_config('/nonexistent')
  spec = synthetic.spec_from_config(config)
  keys = synthetic.example_keys(0, 'train', np.arange(4))   # test_relief_scale's batch
  own = jax.random.uniform(jax.random.fold_in(keys[0], 3), (5,))
  other = jax.random.uniform(jax.random.PRNGKey(7), (2, 5))
  photos = jax.device_get(synthetic.photos_of(keys[0], spec, jnp.concatenate([own[None], other])))
  assert photos.shape == (3, N, N, 3)
  np.testing.assert_allclose(photos[0], jax.device_get(synthetic.render_batch(keys, spec))['image'][0],
                             atol=1e-5)
  assert np.abs(photos[1] - photos[2]).max() > 0.05
  np.testing.assert_allclose(photos[1][:2, :2], photos[2][:2, :2], atol=1e-6)
  view, light, ambient = synthetic.view_and_light(spec, other[0])
  assert abs(float(jnp.linalg.norm(light)) - 1.0) < 1e-5
  lo, hi = np.deg2rad(spec.yaw_range_deg)
  assert lo <= float(view[0]) <= hi and spec.ambient[0] <= float(ambient) <= spec.ambient[1]
