"""Tests of gan3d.eval.geometry (3D metrics) and gan3d.eval.baselines."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan3d.eval import baselines
from gan3d.eval import geometry

D = 4.0
N = 32


def _caps(heights, radius=0.8):
  """Ground-truth-like set: sphere caps of several heights, as maps [M, N, N]."""
  sets = [baselines.sphere_cap(1, N, N, D, radius=radius, cap_height=h) for h in heights]
  return {k: np.concatenate([s[k] for s in sets]) for k in sets[0]}


def _flip(depth, mask):
  """Inverts the relief about the per-sample mean depth (a hollow mask)."""
  mean = np.array([d[m].mean() for d, m in zip(depth, mask)])[:, None, None]
  return np.where(mask, 2 * mean - depth, depth)


HEIGHTS = (0.2, 0.35, 0.5, 0.65, 0.8)


def test_unproject_matches_renderer_camera():
  render = pytest.importorskip('gan3d.render')
  settings = render.RenderSettings(height=N, width=N, camera_distance=D)
  depth = jnp.asarray(np.random.default_rng(0).uniform(3.0, 5.0, (N, N)))
  pts = geometry.unproject_depth(depth, D).reshape(-1, 3)
  xy, dz = render.camera.project(pts, None, settings)
  j, i = np.meshgrid(np.arange(N) + 0.5, np.arange(N) + 0.5)
  np.testing.assert_allclose(np.asarray(xy), np.stack([j.ravel(), i.ravel()], -1), atol=1e-4)
  np.testing.assert_allclose(np.asarray(dz), np.asarray(depth).ravel(), atol=1e-5)


def test_baselines_geometry():
  cap = baselines.sphere_cap(2, N, N, D, radius=0.8, cap_height=0.5)
  disc = baselines.disc(2, N, N, D, radius=0.8)
  for s in (cap, disc):
    assert s['depth'].shape == (2, N, N) and s['normals'].shape == (2, N, N, 3)
    m = s['alpha'] > 0.5
    # Same silhouette (the cap's rim is the disc's edge) and unit normals inside.
    np.testing.assert_allclose(np.linalg.norm(s['normals'][m], axis=-1), 1.0, atol=1e-5)
  assert abs(int((cap['alpha'] > 0.5).sum()) - int((disc['alpha'] > 0.5).sum())) <= 8
  # Cap apex is at depth D - h; the disc is flat at depth D.
  assert cap['depth'][0][N // 2, N // 2] == pytest.approx(D - 0.5, abs=0.02)
  np.testing.assert_allclose(disc['depth'][disc['alpha'] > 0.5], D)
  # Points of the cap lie on its sphere.
  pts = np.asarray(geometry.unproject_depth(cap['depth'][0], D))[cap['alpha'][0] > 0.5]
  sphere_r = (0.64 + 0.25) / 1.0
  np.testing.assert_allclose(np.linalg.norm(pts - [0, 0, 0.5 - sphere_r], axis=-1),
                             sphere_r, atol=1e-4)
  # Normals from depth agree with the analytic ones (within a few degrees).
  n, valid = geometry.normals_from_depth(cap['depth'], cap['alpha'] > 0.5, D)
  assert geometry.mad(n, cap['normals'], valid).max() < 3.0


def test_side_mad_self_zero_flipped_large():
  gt = _caps(HEIGHTS)
  m = gt['alpha'] > 0.5
  np.testing.assert_allclose(geometry.side(gt['depth'], gt['depth'], m), 0.0, atol=1e-12)
  np.testing.assert_allclose(geometry.mad(gt['normals'], gt['normals'], m), 0.0, atol=1e-5)
  flipped = _flip(gt['depth'], m)
  n_flip, valid = geometry.normals_from_depth(flipped, m, D)
  side_flip = geometry.side(flipped, gt['depth'], m)
  mad_flip = geometry.mad(n_flip, gt['normals'], valid)
  assert np.all(side_flip > 0.02), side_flip
  assert np.all(mad_flip[1:] > 15.0), mad_flip
  # Scale invariance: a uniformly scaled depth map has SIDE 0.
  np.testing.assert_allclose(geometry.side(1.3 * gt['depth'], gt['depth'], m), 0.0, atol=1e-6)


def test_hollow_face_rate():
  gt = _caps(HEIGHTS)
  m = gt['alpha'] > 0.5
  assert geometry.hollow_face_rate(gt['depth'], m) == 0.0
  assert geometry.hollow_face_rate(_flip(gt['depth'], m), m) == 1.0
  # With the matched ground truth as template, the same holds.
  assert geometry.hollow_face_rate(_flip(gt['depth'], m), m, reference_depth=gt['depth']) == 1.0
  disc = baselines.disc(3, N, N, D)
  np.testing.assert_array_equal(geometry.relief_scores(disc['depth'], disc['alpha'] > 0.5), 0.0)


def test_chamfer_and_mmd_coverage():
  key = jax.random.PRNGKey(0)
  a = jax.random.normal(key, (6, 64, 3))
  cd = geometry.chamfer_matrix(a, a, chunk=4)
  np.testing.assert_allclose(np.diag(cd), 0.0, atol=1e-5)
  assert np.all(cd[~np.eye(6, dtype=bool)] > 0.05)
  # Brute force agrees with a direct numpy evaluation.
  x, y = np.asarray(a[0]), np.asarray(a[1])
  d = ((x[:, None] - y[None]) ** 2).sum(-1)
  assert cd[0, 1] == pytest.approx(d.min(1).mean() + d.min(0).mean(), rel=1e-4)
  res = geometry.mmd_coverage(cd)
  assert res['mmd_cd'] == pytest.approx(0.0, abs=1e-5) and res['coverage'] == 1.0
  shifted = geometry.mmd_coverage(geometry.chamfer_matrix(a + 1.0, a))
  assert shifted['mmd_cd'] > 1.0


def test_chamfer_prefilter_exact_minima():
  # Distinct shapes (random anisotropic Gaussians): the candidate search
  # finds the true nearest neighbours, so the minima equal brute force.
  key = jax.random.PRNGKey(1)
  m = 16
  cov = jax.random.normal(key, (m, 3, 3))
  a = jax.random.normal(jax.random.fold_in(key, 1), (m, 256, 3)) @ cov
  perm = np.random.default_rng(0).permutation(m)
  b = (jax.random.normal(jax.random.fold_in(key, 2), (m, 256, 3)) @ cov)[perm]
  a, b = geometry.normalize_points(a), geometry.normalize_points(b)
  exact = geometry.chamfer_matrix(a, b)
  np.testing.assert_array_equal(perm[exact.argmin(1)], np.arange(m))
  fast = geometry.chamfer_matrix(a, b, prefilter_points=64, candidates=3)
  np.testing.assert_array_equal(exact.argmin(1), fast.argmin(1))
  np.testing.assert_allclose(exact.min(0), fast.min(0), rtol=1e-5)
  assert np.isinf(fast).any()


def test_normalize_points():
  pts = jax.random.normal(jax.random.PRNGKey(2), (3, 100, 3)) * 5 + 7
  n = geometry.normalize_points(pts)
  np.testing.assert_allclose(np.asarray(n.mean(1)), 0.0, atol=1e-5)
  np.testing.assert_allclose(np.sqrt(np.mean(np.sum(np.asarray(n) ** 2, -1), 1)), 1.0, rtol=1e-5)
  with pytest.raises(ValueError, match='normalize'):
    geometry.normalize_points(pts, 'bogus')


def test_evaluate_geometry_end_to_end():
  # Heights chosen so that the normalised caps are distinct beyond the
  # point-sampling noise of the Chamfer distance at 512 points.
  gt = _caps((0.05, 0.2, 0.4, 0.7))
  gt_data = {'canonical_depth': np.where(gt['alpha'] > 0.5, gt['depth'], np.inf)}
  cfg = geometry.default_config()
  cfg.camera_distance = D
  cfg.num_points = 512
  cfg.chamfer_prefilter_points = 0
  key = jax.random.PRNGKey(0)
  good = geometry.evaluate_geometry(gt, gt_data, key, cfg)
  hollow = dict(gt)
  hollow['depth'] = _flip(gt['depth'], gt['alpha'] > 0.5)
  bad = geometry.evaluate_geometry(hollow, gt_data, key, cfg)
  disc = geometry.evaluate_geometry(baselines.disc(4, N, N, D), gt_data, key, cfg)
  assert good['coverage'] == 1.0 and disc['coverage'] == 0.25
  assert good['mmd_cd'] < 0.5 * disc['mmd_cd']
  assert good['side'] < 1e-3 and good['mad'] < 3.0 and good['hollow_rate'] == 0.0
  assert bad['hollow_rate'] == 1.0 and bad['side'] > 0.02
  assert disc['hollow_rate'] == 0.0
  # canonical_points given directly are used as the reference sets.
  pts = geometry.unproject_depth(gt['depth'], D)
  rng = np.random.default_rng(0)
  gt_data['canonical_points'] = np.stack(
      [rng.permutation(np.asarray(p)[m])[:400] for p, m in zip(pts, gt['alpha'] > 0.5)])
  with_pts = geometry.evaluate_geometry(gt, gt_data, key, cfg)
  assert with_pts['coverage'] == 1.0
  # return_matches: each cap is its own nearest reference; same metrics.
  matched = geometry.evaluate_geometry(gt, gt_data, key, cfg, return_matches=True)
  np.testing.assert_array_equal(matched.pop('nearest_reference'), np.arange(4))
  assert matched == with_pts


def test_side_residuals_sum_to_side():
  gt = _caps(HEIGHTS)
  m = gt['alpha'] > 0.5
  pred = _flip(gt['depth'], m)
  m = m.copy()
  m[2] = False                                 # an empty mask: SIDE NaN, residuals 0
  r, used = geometry.side_residuals(pred, gt['depth'], m)
  np.testing.assert_array_equal(used, m)
  np.testing.assert_array_equal(r[~m], 0.0)
  np.testing.assert_allclose(r.sum(axis=(1, 2)), 0.0, atol=1e-9)   # mean removed per sample
  s = geometry.side(pred, gt['depth'], m)
  assert np.isnan(s[2]) and np.all(s[[0, 1, 3, 4]] > 0.02)
  rms = np.sqrt((r ** 2).sum(axis=(1, 2)) / np.maximum(m.sum(axis=(1, 2)), 1))
  np.testing.assert_allclose(s[[0, 1, 3, 4]], rms[[0, 1, 3, 4]], rtol=1e-12)
  # Straight from the definition: sqrt(mean(delta^2) - mean(delta)^2).
  k = 3
  delta = np.log(pred[k][m[k]].astype(np.float64)) - np.log(gt['depth'][k][m[k]].astype(np.float64))
  assert s[k] == pytest.approx(np.sqrt(np.mean(delta ** 2) - np.mean(delta) ** 2), rel=1e-9)


def test_geometry_errors():
  with pytest.raises(ValueError, match='no valid points'):
    geometry.sample_points(jnp.zeros((2, 4, 3)), jnp.zeros((2, 4), bool),
                           jax.random.PRNGKey(0), 8)
  with pytest.raises(KeyError, match='canonical_depth'):
    geometry.evaluate_geometry(baselines.disc(1, 8, 8, D), {}, jax.random.PRNGKey(0))
  with pytest.raises(ValueError, match='radius'):
    baselines.disc(1, 8, 8, D, radius=2.0)
  with pytest.raises(ValueError, match='camera_distance'):
    geometry.pixel_rays(8, 8, 0.5)


def test_mad_ignores_samples_without_ground_truth_normals():
  """A sample whose matched shape has no valid normals gets no MAD, and the
  mean is over the others (it used to make the whole MAD NaN)."""
  gt = _caps((0.05, 0.2, 0.4, 0.7))
  normals = np.array(gt['normals'])
  normals[2] = 0.0                               # shape 2: no valid normals
  gt_data = {'canonical_depth': np.where(gt['alpha'] > 0.5, gt['depth'], np.inf),
             'canonical_mask': gt['alpha'], 'canonical_normals': normals}
  cfg = geometry.default_config()
  cfg.camera_distance = D
  cfg.num_points = 512
  cfg.chamfer_prefilter_points = 0
  out = geometry.evaluate_geometry(gt, gt_data, jax.random.PRNGKey(0), cfg)
  assert out['side_num_valid'] == 4 and out['mad_num_valid'] == 3
  assert np.isfinite(out['mad']) and out['mad'] < 3.0
