"""`benchmarks.side_map`: the split of SIDE's residuals by border ring and
the centre-line profiles quoted in docs/synthetic_study.md."""
import numpy as np
import pytest

from benchmarks import side_map


def test_border_rings_of_a_square():
  mask = np.zeros((1, 9, 9), bool)
  mask[0, 1:8, 1:8] = True                        # 7 x 7 square
  rings = side_map.border_rings(mask, 2)
  assert (rings[0] == 1).sum() == 24               # its outline
  assert (rings[0] == 2).sum() == 16               # the 5 x 5 square's outline
  assert (rings[0] == 3).sum() == 9                # the 3 x 3 rest
  np.testing.assert_array_equal(rings[~mask], 0)
  full = side_map.border_rings(np.ones((1, 4, 4), bool), 1)
  assert (full[0] == 1).sum() == 12                # the image edge is a border
  with pytest.raises(ValueError, match=r'\[B, H, W\]'):
    side_map.border_rings(mask[0], 2)


def test_breakdown_shares_and_profiles():
  mask = np.zeros((2, 8, 8), bool)
  mask[:, 1:7, 1:7] = True
  rings = side_map.border_rings(mask, 1)
  r = np.where(rings == 1, 0.02, 0.0) + np.where(rings == 2, -0.01, 0.0)
  rows = side_map.breakdown(r, mask, rings, 1)
  assert [row['ring'] for row in rows] == [1, '>1']
  # 20 border pixels at 0.02, 16 inner ones at 0.01: sq 20*4 : 16*1 = 80 : 16.
  assert rows[0]['share_sq'] == pytest.approx(80 / 96, abs=1e-3)
  assert rows[0]['share_px'] == pytest.approx(20 / 36, abs=1e-3)
  assert rows[0]['rms'] == pytest.approx(0.02) and rows[1]['rms'] == pytest.approx(0.01)
  vert, horiz = side_map.line_profiles(r, mask, band=2)
  assert np.isnan(vert[0]) and np.isnan(horiz[7])   # no valid pixel there
  assert vert[1] == pytest.approx(0.02) and vert[4] == pytest.approx(-0.01)
  assert horiz[6] == pytest.approx(0.02) and horiz[3] == pytest.approx(-0.01)


def test_rms_relief_difference_ignores_offsets():
  valid = np.zeros((3, 4, 4), bool)
  valid[:2, 1:3, 1:3] = True                       # sample 2 has no valid pixel
  true = np.full((3, 4, 4), 3.5)
  gen = true + 0.3                                 # the same relief, farther away
  assert side_map.rms_relief_difference(gen, true, valid) == pytest.approx(0.0)
  gen[:, 1, 1:3] += 0.1                            # half the pixels 0.1 farther
  assert side_map.rms_relief_difference(gen, true, valid) == pytest.approx(0.05)
