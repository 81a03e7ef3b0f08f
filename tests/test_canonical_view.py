"""`benchmarks.canonical_view.centre_brightness`: the brightness summary the
README's lighting study quotes."""
import numpy as np

from benchmarks import canonical_view


def test_centre_brightness_mean_and_top_minus_bottom():
  n = 32
  img = np.full((2, n, n, 3), -1.0)          # outside the disc: ignored
  yy, xx = np.mgrid[:n, :n] + 0.5
  disc = (xx - n / 2) ** 2 + (yy - n / 2) ** 2 < (0.3 * n) ** 2
  img[:, disc & (yy < n / 2)] = 0.5
  img[:, disc & (yy >= n / 2)] = -0.25
  out = canonical_view.centre_brightness(img)
  np.testing.assert_allclose(out['mean'], 0.125, atol=1e-4)   # halves of equal area
  np.testing.assert_allclose(out['top_minus_bottom'], 0.75, atol=1e-4)
  flipped = canonical_view.centre_brightness(img[:, ::-1])
  np.testing.assert_allclose(flipped['top_minus_bottom'], -0.75, atol=1e-4)
  assert out['std'] == 0.0                                   # two identical images
  brighter = img.copy()
  brighter[1, disc] += 0.2
  np.testing.assert_allclose(canonical_view.centre_brightness(brighter)['std'], 0.1, atol=1e-4)
