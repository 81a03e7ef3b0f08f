"""Sliced Wasserstein distance on Laplacian-pyramid patches.

Follows Karras et al. 2018, "Progressive Growing of GANs", appendix D:

1. Each image [H, W, 3] is decomposed into a Laplacian pyramid: the Gaussian
   pyramid uses the 5x5 binomial filter [1, 4, 6, 4, 1] / 16 with stride 2
   (reflect padding); level l of the Laplacian pyramid is
   G_l - upsample(G_{l+1}), the coarsest level is the Gaussian level itself.
   Levels go from H down to `config.min_resolution` (inclusive).
2. From every level `config.patches_per_image` random 7x7 patches are taken
   per image (positions drawn with `jax.random`; both sets use the same
   positions for the same image index, common random numbers, so identical
   sets give exactly 0), giving descriptors of dimension 7 * 7 * 3.
3. Descriptors of each set and level are normalised per colour channel: the
   mean and standard deviation over all descriptors and patch pixels of that
   set are removed (each set with its own statistics, as in the reference).
4. The sliced Wasserstein distance between the two descriptor sets uses
   `config.num_projections` random unit directions, drawn in
   `config.projection_repeats` groups; for each direction both sets are
   projected, sorted, and the mean absolute difference of the sorted values
   is taken (the 1-D Wasserstein-1 distance between equal-size empirical
   distributions). Directions are averaged.

Reported numbers follow the paper's convention of multiplying by 1e3.
When the sets have different sizes, both descriptor sets are cut to the
smaller count by a random subset (documented deviation; the reference code
requires equal sizes).

Everything is deterministic for a given `seed`.
"""

from __future__ import annotations

from typing import Dict

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np


def default_config() -> ml_collections.ConfigDict:
  """SWD knobs (defaults of the reference implementation)."""
  c = ml_collections.ConfigDict()
  c.patch_size = 7
  c.patches_per_image = 128
  c.num_projections = 512       # = repeats * directions per repeat
  c.projection_repeats = 4
  c.min_resolution = 16
  c.scale = 1e3                 # the paper reports SWD x 1e3
  return c


_BINOMIAL = np.array([1., 4., 6., 4., 1.], np.float32) / 16.


def _blur(x: jnp.ndarray) -> jnp.ndarray:
  """Separable 5x5 binomial blur with reflect padding. x: [B, H, W, C]."""
  k = jnp.asarray(_BINOMIAL)
  xp = jnp.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode='reflect')
  h, w = x.shape[1], x.shape[2]
  y = sum(k[i] * xp[:, i:i + h, :, :] for i in range(5))
  y = sum(k[i] * y[:, :, i:i + w, :] for i in range(5))
  return y


def _downsample(x: jnp.ndarray) -> jnp.ndarray:
  return _blur(x)[:, ::2, ::2, :]


def _upsample(x: jnp.ndarray) -> jnp.ndarray:
  """Zero-insertion upsampling followed by the binomial blur (x4 gain)."""
  b, h, w, c = x.shape
  y = jnp.zeros((b, 2 * h, 2 * w, c), x.dtype).at[:, ::2, ::2, :].set(x)
  return _blur(y) * 4.0


def laplacian_pyramid(images: jnp.ndarray, min_resolution: int):
  """Laplacian pyramid, finest first.

  Args:
    images: [B, H, W, C] float, H == W a power of two >= min_resolution.
    min_resolution: resolution of the coarsest level.
  Returns:
    list of [B, r, r, C] arrays for r = H, H/2, ..., min_resolution.
  """
  chex.assert_rank(images, 4)
  gaussian = [images]
  while gaussian[-1].shape[1] > min_resolution:
    gaussian.append(_downsample(gaussian[-1]))
  levels = [g - _upsample(n) for g, n in zip(gaussian[:-1], gaussian[1:])]
  levels.append(gaussian[-1])
  return levels


def _extract_patches(level: jnp.ndarray, rng: jax.Array, patches_per_image: int,
                     patch_size: int) -> jnp.ndarray:
  """Random patches. level: [B, r, r, C] -> [B * P, patch_size**2 * C]."""
  b, h, w, c = level.shape
  ky, kx = jax.random.split(rng)
  ys = jax.random.randint(ky, (b, patches_per_image), 0, h - patch_size + 1)
  xs = jax.random.randint(kx, (b, patches_per_image), 0, w - patch_size + 1)
  offs = jnp.arange(patch_size)
  rows = ys[:, :, None, None] + offs[None, None, :, None]   # [B, P, p, 1]
  cols = xs[:, :, None, None] + offs[None, None, None, :]   # [B, P, 1, p]
  bidx = jnp.arange(b)[:, None, None, None]
  patches = level[bidx, rows, cols]                          # [B, P, p, p, C]
  return patches.reshape(b * patches_per_image, patch_size, patch_size, c)


def _normalize(desc: jnp.ndarray) -> jnp.ndarray:
  """Per-channel standardisation. desc: [M, p, p, C] -> [M, p*p*C]."""
  mean = jnp.mean(desc, axis=(0, 1, 2), keepdims=True)
  std = jnp.std(desc, axis=(0, 1, 2), keepdims=True)
  desc = (desc - mean) / jnp.maximum(std, 1e-8)
  return desc.reshape(desc.shape[0], -1)


def sliced_wasserstein(a: jnp.ndarray, b: jnp.ndarray, rng: jax.Array,
                       num_projections: int, repeats: int) -> jnp.ndarray:
  """SWD between two equal-size descriptor sets.

  Args:
    a, b: [M, D] descriptors.
    rng: key for the projection directions.
    num_projections: total number of random directions.
    repeats: directions are drawn in this many groups (memory bound).
  Returns:
    [] mean over directions of the 1-D Wasserstein-1 distance.
  """
  chex.assert_equal_shape([a, b])
  chex.assert_rank(a, 2)
  per = max(num_projections // repeats, 1)
  results = []
  for r in range(repeats):
    dirs = jax.random.normal(jax.random.fold_in(rng, r), (a.shape[1], per))
    dirs = dirs / jnp.linalg.norm(dirs, axis=0, keepdims=True)
    pa = jnp.sort(a @ dirs, axis=0)
    pb = jnp.sort(b @ dirs, axis=0)
    results.append(jnp.mean(jnp.abs(pa - pb)))
  return jnp.mean(jnp.stack(results))


def _check_images(name: str, x) -> jnp.ndarray:
  x = jnp.asarray(x, jnp.float32)
  if x.ndim != 4 or x.shape[-1] != 3:
    raise ValueError(f'{name} must be [N, H, W, 3], got shape {x.shape}')
  if x.shape[1] != x.shape[2] or x.shape[1] & (x.shape[1] - 1):
    raise ValueError(f'{name} must be square with a power-of-two size, got {x.shape}')
  if not bool(jnp.all(jnp.isfinite(x))):
    raise ValueError(f'{name} contains NaN or inf')
  return x


def swd(real, fake, seed: int = 0, config: ml_collections.ConfigDict | None = None
        ) -> Dict[str, float]:
  """Sliced Wasserstein distance between image sets (Karras et al. 2018).

  Args:
    real: [N, H, W, 3] in [-1, 1].
    fake: [M, H, W, 3] in [-1, 1], same H, W.
    seed: integer seed; the result is a deterministic function of it.
    config: see `default_config()`.
  Returns:
    {'swd_<res>': per-level value x config.scale, ..., 'swd_avg': mean}.
  """
  config = config or default_config()
  real = _check_images('real', real)
  fake = _check_images('fake', fake)
  if real.shape[1:] != fake.shape[1:]:
    raise ValueError(f'real {real.shape} and fake {fake.shape} sizes differ')
  if real.shape[1] < config.min_resolution:
    raise ValueError(f'images of size {real.shape[1]} are smaller than '
                     f'min_resolution={config.min_resolution}')
  if config.min_resolution < config.patch_size:
    raise ValueError('min_resolution must be >= patch_size')
  key = jax.random.PRNGKey(seed)
  pyr_r = laplacian_pyramid(real, config.min_resolution)
  pyr_f = laplacian_pyramid(fake, config.min_resolution)
  out = {}
  for lvl, (lr, lf) in enumerate(zip(pyr_r, pyr_f)):
    k = jax.random.fold_in(key, lvl)
    dr = _normalize(_extract_patches(lr, jax.random.fold_in(k, 0),
                                     config.patches_per_image, config.patch_size))
    df = _normalize(_extract_patches(lf, jax.random.fold_in(k, 0),
                                     config.patches_per_image, config.patch_size))
    m = min(dr.shape[0], df.shape[0])
    if dr.shape[0] > m:
      dr = dr[jax.random.permutation(jax.random.fold_in(k, 2), dr.shape[0])[:m]]
    if df.shape[0] > m:
      df = df[jax.random.permutation(jax.random.fold_in(k, 3), df.shape[0])[:m]]
    d = sliced_wasserstein(dr, df, jax.random.fold_in(k, 4),
                           config.num_projections, config.projection_repeats)
    out[f'swd_{lr.shape[1]}'] = float(d) * config.scale
  out['swd_avg'] = float(np.mean([v for v in out.values()]))
  return out
