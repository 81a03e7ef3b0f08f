"""FID and KID from InceptionV3 pool3 features.

* FID (Heusel et al. 2017): ||mu_r - mu_f||^2 + tr(S_r + S_f - 2 (S_r S_f)^(1/2)).
  The trace of the matrix square root is computed without scipy:
  tr((S_r S_f)^(1/2)) = sum_i sqrt(lambda_i(A S_f A)) with A = S_r^(1/2) from a
  symmetric eigendecomposition; A S_f A is symmetric PSD, so `eigh` applies and
  tiny negative eigenvalues from round-off are clipped to 0. All in float64.
* KID (Binkowski et al. 2018): unbiased MMD^2 with the cubic polynomial kernel
  k(x, y) = (x.y / d + 1)^3, averaged over `num_subsets` random subsets of
  `subset_size` samples from each set; reported as mean and standard deviation.
"""

from __future__ import annotations

from typing import Dict, Tuple

import numpy as np


def _check_features(name: str, f) -> np.ndarray:
  f = np.asarray(f, np.float64)
  if f.ndim != 2:
    raise ValueError(f'{name} must be [N, D] features, got shape {f.shape}')
  if f.shape[0] < 2:
    raise ValueError(f'{name} needs at least 2 samples, got {f.shape[0]}')
  if not np.all(np.isfinite(f)):
    raise ValueError(f'{name} contains NaN or inf')
  return f


def feature_statistics(features) -> Tuple[np.ndarray, np.ndarray]:
  """features [N, D] -> (mean [D], covariance [D, D]) (unbiased, float64)."""
  f = _check_features('features', features)
  return f.mean(axis=0), np.cov(f, rowvar=False)


def _sym_sqrt(s: np.ndarray) -> np.ndarray:
  """Square root of a symmetric PSD matrix via eigh (negative eigs -> 0)."""
  s = 0.5 * (s + s.T)
  w, v = np.linalg.eigh(s)
  return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
  """tr((s1 s2)^(1/2)) for symmetric PSD s1, s2 (eigenvalues of s1 s2 are real, >= 0)."""
  a = _sym_sqrt(s1)
  m = a @ s2 @ a
  w = np.linalg.eigvalsh(0.5 * (m + m.T))
  return float(np.sum(np.sqrt(np.clip(w, 0.0, None))))


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
  """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2)."""
  mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
  sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
  if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
    raise ValueError(f'inconsistent shapes: mu {mu1.shape}/{mu2.shape}, '
                     f'sigma {sigma1.shape}/{sigma2.shape}')
  diff = mu1 - mu2
  value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
  return float(max(value, 0.0))


def fid_from_features(real_features, fake_features) -> float:
  """FID between two feature sets [N, D], [M, D]."""
  mu1, s1 = feature_statistics(real_features)
  mu2, s2 = feature_statistics(fake_features)
  return frechet_distance(mu1, s1, mu2, s2)


def _poly_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
  return (x @ y.T / x.shape[1] + 1.0) ** 3


def kid_from_features(real_features, fake_features, num_subsets: int = 100,
                      subset_size: int = 1000, seed: int = 0) -> Dict[str, float]:
  """Kernel Inception Distance (unbiased MMD^2, cubic polynomial kernel).

  Args:
    real_features: [N, D].
    fake_features: [M, D].
    num_subsets: number of random subset pairs.
    subset_size: samples per subset; clipped to min(N, M).
    seed: seed of the subset draws (deterministic).
  Returns:
    {'kid': mean over subsets, 'kid_std': standard deviation over subsets}.
  """
  x = _check_features('real_features', real_features)
  y = _check_features('fake_features', fake_features)
  if x.shape[1] != y.shape[1]:
    raise ValueError(f'feature dims differ: {x.shape[1]} vs {y.shape[1]}')
  if num_subsets < 1:
    raise ValueError(f'num_subsets must be >= 1, got {num_subsets}')
  m = min(subset_size, x.shape[0], y.shape[0])
  gen = np.random.default_rng(seed)
  values = []
  for _ in range(num_subsets):
    a = x[gen.choice(x.shape[0], m, replace=False)]
    b = y[gen.choice(y.shape[0], m, replace=False)]
    kxx, kyy, kxy = _poly_kernel(a, a), _poly_kernel(b, b), _poly_kernel(a, b)
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    values.append(sxx + syy - 2.0 * kxy.mean())
  values = np.asarray(values)
  return {'kid': float(values.mean()), 'kid_std': float(values.std())}


def fid_kid(params, real_images, fake_images, input_size: int = 299,
            batch_size: int = 50, kid_subsets: int = 100, kid_subset_size: int = 1000,
            seed: int = 0) -> Dict[str, float]:
  """FID and KID between two image sets [N, H, W, 3] in [-1, 1].

  `params` are InceptionV3 weights (`inception.load_params`).
  """
  from gan3d.eval import inception
  fr = inception.compute_features(params, real_images, input_size, batch_size)
  ff = inception.compute_features(params, fake_images, input_size, batch_size)
  out = {'fid': fid_from_features(fr, ff)}
  out.update(kid_from_features(fr, ff, kid_subsets, kid_subset_size, seed))
  return out
