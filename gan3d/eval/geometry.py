"""3D accuracy of generated shapes against ground truth (synthetic data).

All inputs are at the *canonical* viewpoint (identity rotation) under the
camera of `gan3d.render`: camera on +Z at distance D looking at the origin,
field of view such that the unit ball fits the image (sin t = 1 / D), pixel
(i, j) centred at (j + 0.5, i + 0.5), depth = D - z (larger = farther).

Metrics
-------
* Point sets: the visible surface of a sample is its depth map unprojected to
  object space (`unproject_depth`), restricted to its mask and resampled to
  `config.num_points` points (with replacement, weighted by the mask, drawn
  with `jax.random`). Each set is then normalised (`normalize_points`):
  'center_rms' (default) subtracts the centroid and divides by the RMS
  distance to it, so metrics compare shape, not position or size.
* Chamfer distance (Achlioptas et al. 2018):
  CD(X, Y) = mean_x min_y |x - y|^2 + mean_y min_x |x - y|^2.
  MMD-CD = mean over ground-truth shapes of the min CD to any generated shape;
  coverage = fraction of ground-truth shapes that are the nearest neighbour
  of at least one generated shape.
* SIDE and MAD (Wu et al. 2020, Unsup3d, section 4.1): each generated sample
  is matched to its nearest ground-truth shape by Chamfer distance; over the
  pixels valid in both (mask_gen & mask_gt),
  SIDE = sqrt(mean(delta^2) - mean(delta)^2) with delta = log d_gen - log d_gt,
  MAD  = mean angle in degrees between the unit normals.
  A sample whose valid overlap is empty gets NaN and is excluded from the mean
  (the counts are reported as `side_num_valid` and `mad_num_valid`; MAD also
  needs ground-truth normals, so its count can be smaller).
* Hollow-face rate: a sample's relief score is the Pearson correlation, over
  its mask, between its depth and the pixel distance from the mask centroid.
  A convex object (nose towards the camera) is nearest at the centre and
  recedes towards the rim, so the score is positive; an inverted relief
  (hollow mask) gives a negative score. A sample is hollow when its score is
  below `-config.hollow_threshold`. A flat relief (depth std below 1e-6) gets
  score 0 and is never hollow. Optionally (`reference_depth`) the template is
  the matched ground-truth depth instead of the radial distance.
"""

from __future__ import annotations

import functools
from typing import Dict, Optional

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np


def default_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.camera_distance = 4.0      # D; must match config.render.camera_distance
  c.num_points = 1024          # points per visible-surface set
  c.normalize = 'center_rms'   # 'center_rms' | 'center_max' | 'none'
  c.alpha_threshold = 0.5      # generated alpha > this is foreground
  c.max_depth_margin = 2.0     # GT depth valid if 0 < depth < D + margin
  c.hollow_threshold = 0.0     # hollow if relief score < -threshold
  c.chamfer_chunk = 16         # reference shapes per Chamfer block (memory)
  c.chamfer_prefilter_points = 128  # coarse candidate search (0 = brute force)
  c.chamfer_candidates = 16    # exact CD for this many nearest candidates per row/column
  return c


# ----------------------------------------------------------------------------
# Camera helpers.


def pixel_rays(height: int, width: int, camera_distance: float) -> np.ndarray:
  """Per-pixel ray directions with unit z-extent: [H, W, 3] = (x tan t, y tan t, -1)."""
  if camera_distance <= 1.0:
    raise ValueError(f'camera_distance must be > 1 (unit ball in view), got {camera_distance}')
  tan_t = 1.0 / np.sqrt(camera_distance ** 2 - 1.0)
  half = 0.5 * min(height, width)     # the unit ball fits the smaller side
  x = (np.arange(width) + 0.5 - 0.5 * width) / half * tan_t
  y = (0.5 * height - (np.arange(height) + 0.5)) / half * tan_t
  xx, yy = np.meshgrid(x, y)
  return np.stack([xx, yy, -np.ones_like(xx)], axis=-1).astype(np.float32)


def unproject_depth(depth, camera_distance: float) -> jnp.ndarray:
  """Depth maps [..., H, W] (D - z) -> object-space points [..., H, W, 3]."""
  depth = jnp.asarray(depth)
  rays = jnp.asarray(pixel_rays(depth.shape[-2], depth.shape[-1], camera_distance))
  pts = depth[..., None] * rays
  return pts.at[..., 2].add(camera_distance)


def normals_from_depth(depth, mask, camera_distance: float):
  """Unit normals from depth maps by central differences of unprojected points.

  Args:
    depth: [B, H, W]; mask: [B, H, W] bool.
  Returns:
    (normals [B, H, W, 3] camera-space, facing the camera (+z), 0 where invalid;
     valid [B, H, W] bool: mask and its 4 neighbours inside the mask).
  """
  chex.assert_rank(depth, 3)
  depth = jnp.asarray(depth, jnp.float32)
  mask = jnp.asarray(mask, bool)
  pts = unproject_depth(jnp.where(mask, depth, camera_distance), camera_distance)
  pp = jnp.pad(pts, ((0, 0), (1, 1), (1, 1), (0, 0)), mode='edge')
  mp = jnp.pad(mask, ((0, 0), (1, 1), (1, 1)))
  d_i = pp[:, 2:, 1:-1] - pp[:, :-2, 1:-1]     # towards -y
  d_j = pp[:, 1:-1, 2:] - pp[:, 1:-1, :-2]     # towards +x
  n = jnp.cross(d_i, d_j)
  n = n / jnp.maximum(jnp.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
  n = jnp.where(n[..., 2:3] < 0, -n, n)
  valid = (mask & mp[:, 2:, 1:-1] & mp[:, :-2, 1:-1] & mp[:, 1:-1, 2:] & mp[:, 1:-1, :-2])
  return jnp.where(valid[..., None], n, 0.0), valid


# ----------------------------------------------------------------------------
# Point sets and Chamfer distance.


def sample_points(points, mask, rng: jax.Array, num_points: int) -> jnp.ndarray:
  """Resamples each masked point set to a fixed size (with replacement).

  Args:
    points: [B, P, 3] (or [B, H, W, 3], flattened).
    mask: [B, P] (or [B, H, W]) bool; every set needs >= 1 valid point.
    rng: key; one sub-key per set.
    num_points: K.
  Returns:
    [B, K, 3].
  """
  points = jnp.asarray(points, jnp.float32)
  b = points.shape[0]
  points = points.reshape(b, -1, 3)
  mask = jnp.asarray(mask, bool).reshape(b, -1)
  counts = np.asarray(mask.sum(axis=1))
  if np.any(counts == 0):
    raise ValueError(f'point sets {np.nonzero(counts == 0)[0].tolist()} have no valid points '
                     '(empty mask)')

  def one(key, p, m):
    idx = jax.random.choice(key, p.shape[0], (num_points,), p=m / m.sum())
    return p[idx]

  keys = jax.random.split(rng, b)
  return jax.vmap(one)(keys, points, mask.astype(jnp.float32))


def normalize_points(points, mode: str = 'center_rms') -> jnp.ndarray:
  """[B, K, 3] -> [B, K, 3], see module docstring."""
  points = jnp.asarray(points)
  chex.assert_rank(points, 3)
  if mode == 'none':
    return points
  centred = points - points.mean(axis=1, keepdims=True)
  r = jnp.linalg.norm(centred, axis=-1)
  if mode == 'center_rms':
    scale = jnp.sqrt(jnp.mean(r ** 2, axis=1))
  elif mode == 'center_max':
    scale = jnp.max(r, axis=1)
  else:
    raise ValueError(f"normalize must be 'center_rms', 'center_max' or 'none', got {mode!r}")
  return centred / jnp.maximum(scale, 1e-12)[:, None, None]


def chamfer_pair(x: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
  """Chamfer distance between [K, 3] and [L, 3] (mean squared NN distances)."""
  d = (jnp.sum(x ** 2, -1)[:, None] + jnp.sum(y ** 2, -1)[None, :] - 2.0 * x @ y.T)
  d = jnp.maximum(d, 0.0)
  return jnp.mean(jnp.min(d, axis=1)) + jnp.mean(jnp.min(d, axis=0))


@functools.partial(jax.jit, static_argnames=('chunk',))
def _chamfer_matrix(a, b, chunk):
  nb = b.shape[0]
  pad = (-nb) % chunk
  bp = jnp.concatenate([b, jnp.repeat(b[:1], pad, axis=0)]) if pad else b
  bp = bp.reshape(-1, chunk, *b.shape[1:])

  def row(x):
    blocks = jax.lax.map(lambda blk: jax.vmap(lambda y: chamfer_pair(x, y))(blk), bp)
    return blocks.reshape(-1)[:nb]

  return jax.lax.map(row, a)


@functools.partial(jax.jit, static_argnames=('chunk',))
def _chamfer_pairs(a, b, ia, ib, chunk):
  """Chamfer distances of the pairs (a[ia[n]], b[ib[n]]); len(ia) % chunk == 0."""
  idx = jnp.stack([ia, ib], -1).reshape(-1, chunk, 2)
  f = jax.vmap(lambda i, j: chamfer_pair(a[i], b[j]))
  return jax.lax.map(lambda blk: f(blk[:, 0], blk[:, 1]), idx).reshape(-1)


def chamfer_matrix(a, b, chunk: int = 16, prefilter_points: int = 0,
                   candidates: int = 8) -> np.ndarray:
  """All-pairs Chamfer distances: a [A, K, 3], b [B, L, 3] -> [A, B] numpy.

  Brute force costs A * B * K * L distance evaluations (about 4e10 for
  200 x 200 sets of 1024 points: minutes on a CPU). With
  `prefilter_points = p > 0` the matrix is first computed from the first p
  points of every set (the sets must be i.i.d. samples, as `sample_points`
  returns), then the exact distance is computed only for candidate pairs:
  the `candidates` nearest references of every row and the `candidates`
  nearest rows of every reference. Other entries are +inf. Row minima and
  column minima (all that MMD, coverage and matching use) are exact whenever
  the true nearest neighbour is among the coarse candidates.
  """
  a = jnp.asarray(a, jnp.float32)
  b = jnp.asarray(b, jnp.float32)
  chex.assert_rank([a, b], 3)
  if a.shape[-1] != 3 or b.shape[-1] != 3:
    raise ValueError(f'point sets must be [N, K, 3], got {a.shape} and {b.shape}')
  chunk = max(1, min(chunk, b.shape[0]))
  p = prefilter_points
  if not p or p >= min(a.shape[1], b.shape[1]) or candidates >= min(a.shape[0], b.shape[0]):
    return np.asarray(_chamfer_matrix(a, b, chunk))
  coarse = np.asarray(_chamfer_matrix(a[:, :p], b[:, :p], chunk))
  cand = np.zeros(coarse.shape, bool)
  rows = np.argpartition(coarse, candidates - 1, axis=1)[:, :candidates]
  cand[np.arange(coarse.shape[0])[:, None], rows] = True
  cols = np.argpartition(coarse, candidates - 1, axis=0)[:candidates, :]
  cand[cols, np.arange(coarse.shape[1])[None, :]] = True
  ia, ib = np.nonzero(cand)
  n = len(ia)
  padded = max(chunk, 1 << int(np.ceil(np.log2(max(n, 1)))))   # few distinct shapes
  ia_p = np.concatenate([ia, np.zeros(padded - n, ia.dtype)])
  ib_p = np.concatenate([ib, np.zeros(padded - n, ib.dtype)])
  vals = np.asarray(_chamfer_pairs(a, b, jnp.asarray(ia_p), jnp.asarray(ib_p), chunk))[:n]
  out = np.full(coarse.shape, np.inf, np.float32)
  out[ia, ib] = vals
  return out


def mmd_coverage(cd: np.ndarray) -> Dict[str, object]:
  """MMD-CD and coverage from a [num_generated, num_reference] Chamfer matrix."""
  cd = np.asarray(cd)
  if cd.ndim != 2 or 0 in cd.shape:
    raise ValueError(f'Chamfer matrix must be [A, B] non-empty, got {cd.shape}')
  nearest_ref = np.argmin(cd, axis=1)
  return {
      'mmd_cd': float(np.mean(np.min(cd, axis=0))),
      'coverage': float(len(np.unique(nearest_ref)) / cd.shape[1]),
      'nearest_reference': nearest_ref,
  }


# ----------------------------------------------------------------------------
# Depth / normal errors (Unsup3d).


def side_residuals(depth_pred, depth_gt, mask) -> tuple[np.ndarray, np.ndarray]:
  """The per-pixel terms of SIDE: ``delta - mean(delta)`` over each sample's
  mask (delta = log d_pred - log d_gt), so that SIDE = sqrt(mean(r^2)) over
  the mask. [B, H, W] x3 -> (r [B, H, W], 0 off the mask; the mask used
  [B, H, W] bool: the given one where both depths are positive)."""
  depth_pred = np.asarray(depth_pred, np.float64)
  depth_gt = np.asarray(depth_gt, np.float64)
  mask = np.asarray(mask, bool) & (depth_pred > 0) & (depth_gt > 0)
  delta = np.log(np.where(mask, depth_pred, 1.0)) - np.log(np.where(mask, depth_gt, 1.0))
  n = np.maximum(mask.sum(axis=(1, 2)), 1)
  m1 = np.where(mask, delta, 0).sum(axis=(1, 2)) / n
  return np.where(mask, delta - m1[:, None, None], 0.0), mask


def side(depth_pred, depth_gt, mask) -> np.ndarray:
  """Scale-invariant depth error per sample. [B, H, W] x3 -> [B] (NaN if mask empty)."""
  r, mask = side_residuals(depth_pred, depth_gt, mask)
  n = mask.sum(axis=(1, 2))
  with np.errstate(invalid='ignore', divide='ignore'):
    return np.sqrt(np.sum(r ** 2, axis=(1, 2)) / n)


def mad(normals_pred, normals_gt, mask) -> np.ndarray:
  """Mean angle deviation in degrees per sample. [B, H, W, 3] x2, [B, H, W] -> [B]."""
  a = np.asarray(normals_pred, np.float64)
  b = np.asarray(normals_gt, np.float64)
  mask = np.asarray(mask, bool)
  a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
  b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
  ang = np.degrees(np.arccos(np.clip(np.sum(a * b, -1), -1.0, 1.0)))
  n = mask.sum(axis=(1, 2))
  with np.errstate(invalid='ignore', divide='ignore'):
    return np.where(mask, ang, 0).sum(axis=(1, 2)) / n


# ----------------------------------------------------------------------------
# Hollow-face rate.


def relief_scores(depth, mask, reference_depth=None) -> np.ndarray:
  """Relief orientation score in [-1, 1] per sample (see module docstring).

  Args:
    depth: [B, H, W]; mask: [B, H, W] bool.
    reference_depth: optional [B, H, W] template relief (e.g. matched ground
      truth); default is the distance from the mask centroid.
  Returns:
    [B] Pearson correlation of depth with the template over the mask
    (0 for flat or empty reliefs).
  """
  depth = np.asarray(depth, np.float64)
  mask = np.asarray(mask, bool)
  if depth.ndim != 3 or mask.shape != depth.shape:
    raise ValueError(f'depth {depth.shape} and mask {mask.shape} must both be [B, H, W]')
  b, h, w = depth.shape
  if reference_depth is None:
    ii, jj = np.meshgrid(np.arange(h), np.arange(w), indexing='ij')
    cnt = np.maximum(mask.sum(axis=(1, 2)), 1)
    ci = (mask * ii).sum(axis=(1, 2)) / cnt
    cj = (mask * jj).sum(axis=(1, 2)) / cnt
    template = np.hypot(ii[None] - ci[:, None, None], jj[None] - cj[:, None, None])
  else:
    template = np.asarray(reference_depth, np.float64)
    if template.shape != depth.shape:
      raise ValueError(f'reference_depth {template.shape} != depth {depth.shape}')
  scores = np.zeros(b)
  for k in range(b):
    m = mask[k]
    if m.sum() < 3:
      continue
    x = depth[k][m] - depth[k][m].mean()
    y = template[k][m] - template[k][m].mean()
    sx, sy = np.sqrt(np.mean(x ** 2)), np.sqrt(np.mean(y ** 2))
    if sx < 1e-6 or sy < 1e-12:
      continue
    scores[k] = np.mean(x * y) / (sx * sy)
  return scores


def hollow_face_rate(depth, mask, threshold: float = 0.0, reference_depth=None) -> float:
  """Fraction of samples with an inverted relief (score < -threshold)."""
  s = relief_scores(depth, mask, reference_depth)
  return float(np.mean(s < -threshold))


# ----------------------------------------------------------------------------
# Everything together.


def ground_truth_views(gt: Dict[str, np.ndarray], config) -> Dict[str, np.ndarray]:
  """Canonical depth / mask / normals of the ground truth.

  Uses gt['canonical_depth'] [M, H, W]; gt['canonical_mask'] and
  gt['canonical_normals'] when present, else the mask is
  0 < depth < D + config.max_depth_margin and the normals come from
  `normals_from_depth` (valid where the 4 neighbours are in the mask:
  'normal_mask'; MAD is averaged over those pixels only).
  """
  if 'canonical_depth' not in gt:
    raise KeyError("ground truth needs 'canonical_depth' [M, H, W]")
  depth = np.asarray(gt['canonical_depth'], np.float32)
  if depth.ndim != 3:
    raise ValueError(f'canonical_depth must be [M, H, W], got {depth.shape}')
  if 'canonical_mask' in gt:
    mask = np.asarray(gt['canonical_mask']) > 0.5
  else:
    mask = (np.isfinite(depth) & (depth > 0)
            & (depth < config.camera_distance + config.max_depth_margin))
  if 'canonical_normals' in gt:
    normals = np.asarray(gt['canonical_normals'], np.float32)
    normal_mask = mask & (np.linalg.norm(normals, axis=-1) > 0.5)
  else:
    normals, normal_mask = normals_from_depth(depth, mask, config.camera_distance)
    normals, normal_mask = np.asarray(normals), np.asarray(normal_mask)
  return {'depth': depth, 'mask': mask, 'normals': normals, 'normal_mask': normal_mask}


def evaluate_geometry(generated: Dict[str, np.ndarray], gt: Dict[str, np.ndarray],
                      rng: jax.Array, config: Optional[ml_collections.ConfigDict] = None,
                      return_matches: bool = False) -> Dict[str, float]:
  """All 3D metrics of a generated set against the ground truth.

  Args:
    generated: {'depth': [A, H, W], 'normals': [A, H, W, 3], 'alpha': [A, H, W]}
      rendered at the canonical viewpoint (e.g. `gan3d.render` outputs, or
      `baselines.disc` / `baselines.sphere_cap`).
    gt: ground truth dict (see `ground_truth_views`); gt['canonical_points']
      [M, P, 3] (object space, visible surface) is used when present, else the
      points come from the canonical depth.
    rng: key (point resampling).
    config: `default_config()`.
    return_matches: also return 'nearest_reference' [A] int, each sample's
      Chamfer-nearest ground-truth shape (the one SIDE and MAD compare it with).
  Returns:
    {'mmd_cd', 'coverage', 'side', 'mad', 'side_num_valid', 'mad_num_valid',
     'hollow_rate'} (and 'nearest_reference').
  """
  config = config or default_config()
  for k in ('depth', 'normals', 'alpha'):
    if k not in generated:
      raise KeyError(f"generated set needs '{k}'")
  g_depth = np.asarray(generated['depth'], np.float32)
  g_mask = np.asarray(generated['alpha']) > config.alpha_threshold
  g_normals = np.asarray(generated['normals'], np.float32)
  for name, arr in (('depth', g_depth), ('normals', g_normals)):
    if not np.all(np.isfinite(arr[g_mask])):
      raise ValueError(f'generated {name} has NaN/inf inside the mask')
  ref = ground_truth_views(gt, config)
  if ref['depth'].shape[1:] != g_depth.shape[1:]:
    raise ValueError(f'generated maps {g_depth.shape[1:]} and ground truth '
                     f"{ref['depth'].shape[1:]} differ in size")
  k_gen, k_ref = jax.random.split(rng)
  g_pts = sample_points(unproject_depth(g_depth, config.camera_distance), g_mask,
                        k_gen, config.num_points)
  if 'canonical_points' in gt:
    r_pts = jnp.asarray(gt['canonical_points'], jnp.float32)
    r_pts = sample_points(r_pts, jnp.ones(r_pts.shape[:2], bool), k_ref, config.num_points)
  else:
    r_pts = sample_points(unproject_depth(ref['depth'], config.camera_distance),
                          ref['mask'], k_ref, config.num_points)
  cd = chamfer_matrix(normalize_points(g_pts, config.normalize),
                      normalize_points(r_pts, config.normalize), config.chamfer_chunk,
                      config.chamfer_prefilter_points, config.chamfer_candidates)
  out = mmd_coverage(cd)
  match = out['nearest_reference'] if return_matches else out.pop('nearest_reference')
  valid = g_mask & ref['mask'][match]
  s = side(g_depth, ref['depth'][match], valid)
  a = mad(g_normals, ref['normals'][match], valid & ref['normal_mask'][match])
  ok = np.isfinite(s)
  ok_mad = np.isfinite(a)   # a sample can have depth overlap but no normal pixels
  out.update({
      'side': float(np.mean(s[ok])) if ok.any() else float('nan'),
      'mad': float(np.mean(a[ok_mad])) if ok_mad.any() else float('nan'),
      'side_num_valid': int(ok.sum()),
      'mad_num_valid': int(ok_mad.sum()),
      'hollow_rate': hollow_face_rate(g_depth, g_mask, config.hollow_threshold),
  })
  return out
