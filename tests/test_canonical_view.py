"""`benchmarks.canonical_view`: the brightness summary the README's lighting
study quotes, and the coverage per yaw bin."""
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


def test_pixels_by_yaw_bins_by_absolute_yaw():
  n = 8
  mask = np.zeros((5, n, n), bool)
  for i, k in enumerate((4, 6, 10, 20, 30)):
    mask[i].flat[:k] = True
  yaw = np.radians([-5.0, 10.0, 20.0, -44.0, 45.0])
  view = np.stack([yaw, np.zeros(5)], 1)
  # bins [0, 15), [15, 30), [30, 45]: the sign of the yaw does not matter
  assert canonical_view.pixels_by_yaw(mask, view, 45.0) == [5.0, 10.0, 25.0]
  assert canonical_view.pixels_by_yaw(mask[:2], view[:2], 45.0) == [5.0, None, None]


def test_orientation_counts_pixels_from_the_coverage_when_given():
  n = 6
  normals = np.zeros((2, n, n, 3))
  normals[..., 2] = 1.0
  cover = np.zeros((2, n, n), bool)
  cover[:, 1:5, 1:5] = True
  inner = np.zeros_like(cover)
  inner[:, 2:4, 2:4] = True
  assert canonical_view.orientation(normals, inner)['pixels'] == 4.0
  out = canonical_view.orientation(normals, inner, coverage=cover)
  assert out['pixels'] == 16.0 and out['tilt'] == 0.0
