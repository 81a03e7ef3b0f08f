"""Tests of gan3d.eval.swd (sliced Wasserstein distance, Karras et al. 2018)."""
import numpy as np
import pytest

from gan3d.eval import swd


def _config():
  c = swd.default_config()
  c.patches_per_image = 32
  c.num_projections = 64
  c.projection_repeats = 2
  c.min_resolution = 16
  return c


def _smooth_images(seed, n=16, size=32):
  """Smooth random colour fields in [-1, 1] (low-frequency content)."""
  rng = np.random.default_rng(seed)
  coarse = rng.uniform(-1, 1, (n, 4, 4, 3))
  img = coarse.repeat(size // 4, 1).repeat(size // 4, 2)
  k = np.ones(5) / 5
  for ax in (1, 2):
    img = np.apply_along_axis(lambda r: np.convolve(r, k, mode='same'), ax, img)
  return np.clip(img, -1, 1).astype(np.float32)


def test_identical_sets_give_zero():
  x = _smooth_images(0)
  out = swd.swd(x, x, seed=3, config=_config())
  assert set(out) == {'swd_32', 'swd_16', 'swd_avg'}
  assert all(abs(v) < 1e-6 for v in out.values()), out


def test_same_distribution_small_different_large():
  # Two independent draws of smooth images vs smooth images against white
  # noise (measured: about 42 vs 118).
  c = _config()
  c.patches_per_image = 64
  real, real2 = _smooth_images(0, n=64), _smooth_images(1, n=64)
  noise = np.random.default_rng(2).uniform(-1, 1, real.shape).astype(np.float32)
  same = swd.swd(real, real2, seed=0, config=c)['swd_avg']
  diff = swd.swd(real, noise, seed=0, config=c)['swd_avg']
  assert diff > 2 * same, (same, diff)


def test_deterministic_for_seed_and_unequal_sizes():
  c = _config()
  a, b = _smooth_images(0), _smooth_images(1, n=10)
  r1 = swd.swd(a, b, seed=5, config=c)
  r2 = swd.swd(a, b, seed=5, config=c)
  assert r1 == r2
  assert np.isfinite(r1['swd_avg'])


def test_laplacian_pyramid_shapes_and_constant_images():
  import jax.numpy as jnp
  x = jnp.full((2, 32, 32, 3), 0.3)
  levels = swd.laplacian_pyramid(x, 8)
  assert [l.shape[1] for l in levels] == [32, 16, 8]
  # Band-pass levels of a constant image vanish; the coarsest keeps the value.
  np.testing.assert_allclose(levels[0], 0.0, atol=1e-6)
  np.testing.assert_allclose(levels[-1], 0.3, atol=1e-6)


@pytest.mark.parametrize('bad,msg', [
    (np.zeros((4, 32, 32)), r'\[N, H, W, 3\]'),
    (np.zeros((4, 24, 24, 3)), 'power-of-two'),
    (np.full((4, 32, 32, 3), np.nan), 'NaN'),
])
def test_bad_input(bad, msg):
  with pytest.raises(ValueError, match=msg):
    swd.swd(bad, np.zeros((4, 32, 32, 3)), config=_config())
