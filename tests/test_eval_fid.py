"""Tests of FID / KID (gan3d.eval.fid) and the Flax InceptionV3 (gan3d.eval.inception)."""
import jax
import numpy as np
import pytest

from gan3d.eval import convert_inception
from gan3d.eval import fid
from gan3d.eval import inception


def _feats(seed, n=400, d=16, shift=0.0):
  """Samples of one fixed correlated Gaussian (mixing matrix from seed 100)."""
  a = np.random.default_rng(100).normal(size=(d, d)) / np.sqrt(d)
  return np.random.default_rng(seed).normal(size=(n, d)) @ a + shift


def test_fid_identical_zero_and_mean_shift_exact():
  f = _feats(0)
  assert fid.fid_from_features(f, f) == pytest.approx(0.0, abs=1e-8)
  # Equal covariances: FID is exactly the squared mean difference.
  shift = np.zeros(16)
  shift[:4] = 0.5
  assert fid.fid_from_features(f, f + shift) == pytest.approx(1.0, rel=1e-6)


def test_trace_sqrt_product_matches_diagonal_and_scipy():
  d1, d2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.0])
  assert fid.trace_sqrt_product(np.diag(d1), np.diag(d2)) == pytest.approx(2 + 2 + 0)
  rng = np.random.default_rng(1)
  a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 3))
  s1, s2 = a @ a.T, b @ b.T    # s2 is rank deficient (numerically PSD)
  linalg = pytest.importorskip('scipy.linalg')
  ref = np.trace(linalg.sqrtm(s1 @ s2)).real
  assert fid.trace_sqrt_product(s1, s2) == pytest.approx(ref, rel=1e-6)


def test_fid_separates_distributions():
  a, b = _feats(0), _feats(1)
  same = fid.fid_from_features(a, b)
  diff = fid.fid_from_features(a, _feats(2, shift=1.0))
  assert diff > 10 * same


def test_kid_unbiased_near_zero_and_larger_for_shift():
  a, b = _feats(0), _feats(1)
  same = fid.kid_from_features(a, b, num_subsets=20, subset_size=200, seed=0)
  diff = fid.kid_from_features(a, _feats(2, shift=1.0), num_subsets=20, subset_size=200)
  assert abs(same['kid']) < 3 * same['kid_std'] + 1e-3
  assert diff['kid'] > 20 * abs(same['kid'])
  assert fid.kid_from_features(a, b, num_subsets=5, subset_size=100, seed=3) == \
      fid.kid_from_features(a, b, num_subsets=5, subset_size=100, seed=3)


def test_feature_errors():
  with pytest.raises(ValueError, match='NaN'):
    fid.fid_from_features(np.full((4, 3), np.nan), np.zeros((4, 3)))
  with pytest.raises(ValueError, match=r'\[N, D\]'):
    fid.fid_from_features(np.zeros(4), np.zeros((4, 3)))


@pytest.fixture(scope='module')
def random_inception():
  return inception.init_params(jax.random.PRNGKey(0))


@pytest.mark.slow   # compiling InceptionV3 on CPU: ~30 s CPU time, ~110 s wall on a loaded 2-core box
def test_inception_features_shape_and_fid_kid(random_inception, tmp_path):
  rng = np.random.default_rng(0)
  real = rng.uniform(-1, 1, (5, 32, 32, 3)).astype(np.float32)
  fake = np.clip(real + 0.5, -1, 1)
  f1 = inception.compute_features(random_inception, real, input_size=75, batch_size=4)
  f2 = inception.compute_features(random_inception, real, input_size=75, batch_size=4)
  assert f1.shape == (5, inception.FEATURE_DIM)
  assert np.all(np.isfinite(f1)) and f1.std() > 0
  np.testing.assert_allclose(f1, f2)
  out = fid.fid_kid(random_inception, real, fake, input_size=75, batch_size=4,
                    kid_subsets=3, kid_subset_size=5)
  same = fid.fid_kid(random_inception, real, real, input_size=75, batch_size=4,
                     kid_subsets=3, kid_subset_size=5)
  assert same['fid'] == pytest.approx(0.0, abs=1e-6)
  assert out['fid'] > 1e-3 and np.isfinite(out['kid'])


def test_weights_roundtrip_and_conversion(random_inception, tmp_path):
  # A fabricated pytorch-fid state dict converts back to the same parameters.
  flat = {k: np.asarray(v) for k, v in inception.flatten_params(random_inception).items()}
  sd = convert_inception.flax_to_torch(flat)
  assert sd['Conv2d_1a_3x3.conv.weight'].shape == (32, 3, 3, 3)
  sd['fc.weight'] = np.zeros((1008, 2048), np.float32)
  sd['Conv2d_1a_3x3.bn.num_batches_tracked'] = np.zeros((), np.int64)
  np.savez(tmp_path / 'sd.npz', **sd)
  convert_inception.convert(str(tmp_path / 'sd.npz'), str(tmp_path / 'w.npz'))
  loaded = inception.flatten_params(inception.load_params(str(tmp_path / 'w.npz')))
  assert set(loaded) == set(flat)
  for k in flat:
    np.testing.assert_array_equal(np.asarray(loaded[k]), flat[k])


def test_load_params_errors(tmp_path):
  with pytest.raises(FileNotFoundError, match='convert_inception'):
    inception.load_params(str(tmp_path / 'missing.npz'))
  np.savez(tmp_path / 'bad.npz', x=np.zeros(3))
  with pytest.raises(ValueError, match='missing'):
    inception.load_params(str(tmp_path / 'bad.npz'))


def test_input_too_small(random_inception):
  with pytest.raises(ValueError, match='input_size'):
    inception.compute_features(random_inception, np.zeros((1, 8, 8, 3)), input_size=32)
