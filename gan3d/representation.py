"""The 3D scene representation m = [s, t, b] (paper section 6, eqs 13-14).

Pure functions that turn the raw generator outputs into the scene:

* ``split_object_output``: G_o's ``[B, 2N, 2N, 3K + 3]`` output into K shape
  images (2x2 average-pooled to ``[B, N, N, 3K]``) and the texture
  ``[B, 2N, 2N, 3]``;
* ``shape_pyramid`` (eq 13): ``s_pyr = sum_k blur(s_k, sigma = 2^k px) / 2^k``;
* ``size_constraint`` (eq 14): ``s * tanh(|s|) / |s| * s_max`` per pixel;
* ``base_surface``: a disc, hemisphere or paraboloid that the generator may offset
  instead of predicting raw coordinates (``config.model.shape_param``);
* ``mirror_symmetrize``: bilateral symmetry about the object's y-z plane
  (optional, ``config.model.shape_symmetry``; not in the paper);
* ``build_shape_image``: the whole chain, as configured;
* ``crop_background``: a random ``[N, N]`` crop of the ``[2N, 2N]``
  background, one offset per sample drawn from the rng.

Shape-image coordinates follow the renderer's object space (x right, y up,
z towards the camera); pixel (i, j) of the shape image is vertex ``i * N + j``.
"""

from __future__ import annotations

import functools
import math
import os
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np

SHAPE_PARAMS = ('raw', 'offset_disc', 'offset_hemisphere', 'offset_paraboloid',
                'offset_sphere', 'offset_template')
# model.shape_branch: 'shared' (the shape channels are toRGB outputs of G_o's
# own blocks, the paper) or 'separate' (a tower of their own,
# gan3d.models.synthesis).
SHAPE_BRANCHES = ('shared', 'separate')


# ----------------------------------------------------------------------------
# Eq 13: shape image pyramid.


@functools.lru_cache(maxsize=64)
def gaussian_blur_matrix(n: int, sigma: float, truncate: float = 3.0) -> np.ndarray:
  """1-D Gaussian blur as an ``[n, n]`` matrix with edge-replicate boundary.

  Row i holds the weights with which output pixel i averages the inputs; taps
  beyond the border are clamped to the edge pixel, so every row sums to one
  (a constant image stays constant). ``sigma`` in pixels; the kernel is
  truncated at ``truncate * sigma``.
  """
  if sigma <= 0:
    raise ValueError(f'blur sigma must be > 0, got {sigma}')
  radius = max(1, int(math.ceil(truncate * sigma)))
  taps = np.arange(-radius, radius + 1)
  g = np.exp(-0.5 * (taps / sigma) ** 2)
  g /= g.sum()
  m = np.zeros((n, n), np.float64)
  for i in range(n):
    np.add.at(m[i], np.clip(i + taps, 0, n - 1), g)
  return m.astype(np.float32)


def gaussian_blur(images: jax.Array, sigma: float) -> jax.Array:
  """Separable Gaussian blur of ``[B, N, N, C]`` (sigma in pixels)."""
  chex.assert_rank(images, 4)
  n_h, n_w = images.shape[1], images.shape[2]
  mh = jnp.asarray(gaussian_blur_matrix(n_h, float(sigma)), images.dtype)
  mw = jnp.asarray(gaussian_blur_matrix(n_w, float(sigma)), images.dtype)
  return jnp.einsum('ih,bhwc,jw->bijc', mh, images, mw)


def pyramid_weights(levels: int) -> np.ndarray:
  """The eq 13 weights ``1 / 2^k`` for ``k = 0 .. K-1``."""
  return 1.0 / 2.0 ** np.arange(levels)


def shape_pyramid(shape_images: jax.Array, levels: int) -> jax.Array:
  """Eq 13: ``[B, N, N, 3K] -> [B, N, N, 3]``.

  Level k (channels ``3k:3k+3``) is blurred with sigma ``2^k`` pixels of the
  shape image and weighted by ``1 / 2^k``. Level 0 is not blurred (sigma = 1
  in the printed equation would blur the finest level too; we read level 0 as
  the unblurred image so that ``K = 1`` is the identity, as the config
  documents: '1 = off').
  """
  chex.assert_rank(shape_images, 4)
  if levels < 1:
    raise ValueError(f'shape_pyramid_levels must be >= 1, got {levels}')
  if shape_images.shape[-1] != 3 * levels:
    raise ValueError(f'shape pyramid expects 3*K = {3 * levels} channels, got '
                     f'{shape_images.shape[-1]}')
  out = shape_images[..., 0:3]
  for k in range(1, levels):
    out = out + gaussian_blur(shape_images[..., 3 * k:3 * k + 3], 2.0 ** k) / 2.0 ** k
  return out


# ----------------------------------------------------------------------------
# Eq 14: size constraint.


def tanh_ratio_of_sq(r2: jax.Array, eps: float = 1e-4) -> jax.Array:
  """``tanh(r) / r`` as a function of ``r2 = r^2``, safe (value and all
  derivatives) at 0: below ``eps`` it uses ``1 - r^2/3 + 2 r^4/15 - 17 r^6/315``.
  """
  small = r2 < eps
  r2_safe = jnp.where(small, 1.0, r2)
  r = jnp.sqrt(r2_safe)
  big = jnp.tanh(r) / r
  series = 1.0 - r2 / 3.0 + 2.0 * r2 ** 2 / 15.0 - 17.0 * r2 ** 3 / 315.0
  return jnp.where(small, series, big)


def size_constraint(s: jax.Array, s_max: float) -> jax.Array:
  """Eq 14: ``s * tanh(|s|) / |s| * s_max`` with the L2 norm per pixel.

  ``s [..., 3] -> [..., 3]``; the output norm is ``s_max * tanh(|s|) < s_max``.
  Finite value and gradient at ``s = 0`` (where it is ``s_max * s``).
  """
  chex.assert_axis_dimension(s, -1, 3)
  r2 = jnp.sum(jnp.square(s), axis=-1, keepdims=True)
  return s * tanh_ratio_of_sq(r2) * s_max


# ----------------------------------------------------------------------------
# Base surfaces for the offset parametrisations.


@functools.lru_cache(maxsize=64)
def base_surface(n: int, kind: str, radius: float = 1.0, height: float = 1.0,
                 zero_radius: float = 1.0, wrap_deg: float = 120.0) -> np.ndarray:
  """A base shape image ``[n, n, 3]`` (float32) for ``shape_param``.

  Pixel (i, j) sits at ``x = radius * ((j + 0.5) / n * 2 - 1)``,
  ``y = -radius * ((i + 0.5) / n * 2 - 1)`` (y up: row 0 is the top).

  * 'disc': the flat grid, z = 0;
  * 'hemisphere': ``z = sqrt(radius^2 - x^2 - y^2)`` inside the disc of
    ``radius`` (towards the camera), 0 outside;
  * 'paraboloid': ``z = height * (1 - (x^2 + y^2) / zero_radius^2)``: a dome
    of ``height`` at the centre that crosses z = 0 at ``zero_radius`` and
    keeps falling back beyond it (to ``height * (1 - radius^2 /
    zero_radius^2)`` at the rim). With height 0.5 and zero radius 0.8 it is
    the sphere-cap baseline of `gan3d.eval.baselines` (same height and
    z = 0 circle) continued behind the z = 0 plane;
  * 'sphere': the grid wrapped onto the ball of ``radius`` about the origin
    (a head-like start): the pixel at grid radius ``rho = sqrt(u^2 + v^2)``
    (u, v in [-1, 1] as above, before the radius) goes to polar angle
    ``theta = rho * wrap_deg`` from +z at azimuth atan2(v, u), so the
    centre faces the camera, the equator is at ``rho = 90 / wrap_deg`` and
    the disc's rim wraps behind it (with the default 120 degrees, to
    ``z = radius cos 120 = -radius / 2``). theta is capped at 180 degrees
    (the grid's corners, outside the mesh's disc);
  * 'raw': zeros (the generator predicts coordinates directly).
  """
  if kind == 'raw':
    return np.zeros((n, n, 3), np.float32)
  g = (np.arange(n) + 0.5) / n * 2.0 - 1.0
  u = np.broadcast_to(g[None, :], (n, n))        # grid coordinates in [-1, 1]
  v = np.broadcast_to(-g[:, None], (n, n))
  if kind == 'sphere':
    if not 0.0 < wrap_deg <= 180.0:
      raise ValueError(f'sphere wrap_deg must be in (0, 180], got {wrap_deg}')
    rho = np.hypot(u, v)                      # 0 at the centre pixel of an odd n
    theta = np.minimum(rho * np.deg2rad(wrap_deg), np.pi)
    # sin(theta) / rho, whose limit at rho = 0 is the wrap in radians.
    ring = radius * np.where(rho > 0, np.sin(theta) / np.maximum(rho, 1e-30),
                             np.deg2rad(wrap_deg))
    return np.stack([ring * u, ring * v, radius * np.cos(theta)], axis=-1).astype(np.float32)
  x, y = u * radius, v * radius
  if kind == 'disc':
    z = np.zeros((n, n))
  elif kind == 'hemisphere':
    z = np.sqrt(np.maximum(radius ** 2 - x ** 2 - y ** 2, 0.0))
  elif kind == 'paraboloid':
    if zero_radius <= 0:
      raise ValueError(f'paraboloid zero_radius must be > 0, got {zero_radius}')
    z = height * (1.0 - (x ** 2 + y ** 2) / zero_radius ** 2)
  else:
    raise ValueError(f"unknown base surface {kind!r} (expected "
                     "raw|disc|hemisphere|paraboloid|sphere)")
  return np.stack([x, y, z], axis=-1).astype(np.float32)


@functools.lru_cache(maxsize=8)
def load_template(path: str, n: int) -> np.ndarray:
  """The base shape image of 'offset_template': ``[n, n, 3]`` float32 from
  the ``.npy`` file ``path`` (``config.model.base_template``; for example a
  mean face written by ``python -m benchmarks.face_template``).

  Raises ValueError naming the key when the file is missing, or its array
  is not ``[n, n, 3]`` or not finite.
  """
  key = 'config.model.base_template'
  if not path:
    raise ValueError(f"{key} must name a .npy file when shape_param is 'offset_template'")
  if not os.path.exists(path):
    raise ValueError(f'{key}={path!r}: no such file')
  try:
    t = np.load(path)
  except Exception as e:   # pylint: disable=broad-except
    raise ValueError(f'{key}={path!r}: not a readable .npy array ({e})') from e
  if t.shape != (n, n, 3):
    raise ValueError(f'{key}={path!r}: shape {t.shape}, expected the shape '
                     f'image [{n}, {n}, 3] of this resolution')
  if not np.all(np.isfinite(t)):
    raise ValueError(f'{key}={path!r}: has NaN or inf values')
  return t.astype(np.float32)


def mirror_symmetrize(s: jax.Array) -> jax.Array:
  """``[B, N, N, 3] -> [B, N, N, 3]``: the average of the shape image and
  its mirror image about x = 0 (column j <-> N-1-j, x negated).

  The result is symmetric: vertex (i, j) is vertex (i, N-1-j) with x negated.
  """
  chex.assert_rank(s, 4)
  chex.assert_axis_dimension(s, -1, 3)
  flip = jnp.asarray([-1.0, 1.0, 1.0], s.dtype)
  return 0.5 * (s + s[:, :, ::-1, :] * flip)


# ----------------------------------------------------------------------------
# Assembling the scene.


def split_object_output(obj: jax.Array, levels: int) -> tuple[jax.Array, jax.Array]:
  """G_o output ``[B, 2N, 2N, 3K + 3]`` -> (shape ``[B, N, N, 3K]``, texture
  ``[B, 2N, 2N, 3]``). The shape channels are 2x2 average-pooled to N."""
  chex.assert_rank(obj, 4)
  b, h, w, c = obj.shape
  if c != 3 * levels + 3:
    raise ValueError(f'object generator output has {c} channels, expected '
                     f'3*K + 3 = {3 * levels + 3}')
  if h != w or h % 2:
    raise ValueError(f'object generator output must be square 2N x 2N, got {h}x{w}')
  shape = obj[..., :3 * levels].reshape(b, h // 2, 2, w // 2, 2, 3 * levels).mean((2, 4))
  texture = obj[..., 3 * levels:]
  return shape, texture


def build_shape_image(raw_shape: jax.Array, model_cfg: Any) -> jax.Array:
  """Raw shape channels ``[B, N, N, 3K]`` -> shape image ``[B, N, N, 3]``.

  ``s = shape_output_scale * pyramid(raw)`` (eq 13), mirror-symmetrised
  if ``model_cfg.shape_symmetry``, then ``s = base_surface + s`` for the
  offset parametrisations, then eq 14 (``size_constraint(s, s_max)``) if
  ``model_cfg.size_constraint``. (The base surfaces are symmetric and eq 14
  acts per vertex, so the result stays symmetric.)
  """
  levels = int(model_cfg.shape_pyramid_levels)
  param = str(model_cfg.shape_param)
  if param not in SHAPE_PARAMS:
    raise ValueError(f'config.model.shape_param must be one of {SHAPE_PARAMS}, got {param!r}')
  s = shape_pyramid(raw_shape, levels) * float(model_cfg.shape_output_scale)
  if bool(model_cfg.get('shape_symmetry', False)):
    s = mirror_symmetrize(s)
  n = s.shape[1]
  if param == 'offset_template':
    s = s + jnp.asarray(load_template(str(model_cfg.base_template), n), s.dtype)
  elif param != 'raw':
    kind = param[len('offset_'):]
    shape = ((float(model_cfg.base_height), float(model_cfg.base_zero_radius))
             if kind == 'paraboloid' else ())
    wrap = {'wrap_deg': float(model_cfg.base_wrap_deg)} if kind == 'sphere' else {}
    base = base_surface(n, kind, float(model_cfg.base_radius), *shape, **wrap)
    s = s + jnp.asarray(base, s.dtype)
  if bool(model_cfg.size_constraint):
    s = size_constraint(s, float(model_cfg.s_max))
  chex.assert_shape(s, (raw_shape.shape[0], n, n, 3))
  return s


def crop_background(background: jax.Array, n: int, rng: jax.Array) -> jax.Array:
  """A random ``[n, n]`` crop per sample: ``[B, 2n, 2n, C] -> [B, n, n, C]``.

  Offsets are uniform integers in ``[0, H - n]``, drawn per sample from rng.
  """
  chex.assert_rank(background, 4)
  b, h, w, c = background.shape
  if h < n or w < n:
    raise ValueError(f'background {h}x{w} is smaller than the crop {n}x{n}')
  ky, kx = jax.random.split(rng)
  oy = jax.random.randint(ky, (b,), 0, h - n + 1)
  ox = jax.random.randint(kx, (b,), 0, w - n + 1)
  crop = jax.vmap(lambda im, y, x: jax.lax.dynamic_slice(im, (y, x, 0), (n, n, c)))
  return crop(background, oy, ox)
