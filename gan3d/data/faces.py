"""Procedural 3D face-like surfaces, their textures and natural-looking backgrounds.

Pure jax.numpy; no TensorFlow. Used by `gan3d.data.synthetic` to make the
synthetic data set with ground truth (the default training set and the 3D
accuracy benchmark).

Parametrisation. A face lives on the parameter disc u^2 + v^2 <= 1 (u right,
v up). Object space is x = R u, y = R v, z = relief(u, v) (x right, y up, z
towards the camera, as in docs/interfaces.md), R = `disc_radius`. The relief is
a sum of smooth terms, each with random parameters:

  head     elliptic dome H (1 - q^p), q the elliptic radius of (u, v) with half
           axes (a, b) and a jaw that narrows the lower half; beyond the head
           ellipse (q > 1) the surface falls back smoothly to -skirt_depth
           (the "skirt" of the disc),
  brows    two elongated bumps above the eyes,
  eyes     two sockets (anisotropic Gaussian dips),
  nose     a ridge from between the eyes to the tip, growing towards the tip,
           plus two alar (nostril wing) bumps,
  cheeks   two broad bumps,
  lips     upper and lower lip bumps with a crease between,
  chin     a bump below the mouth.

Every random parameter is drawn uniformly from a range in `DEFAULT_RANGES`
(configurable: `config.data.synthetic.face`), so the whole distribution is
data. The texture (albedo) is painted in the same (u, v) space: skin tone,
sclera / iris / pupil, brows, lips and a hair region above a hairline and at
the sides of the head, with low-frequency skin blotches and hair streaks.

All shapes are documented per function; `[T, T, 3]` textures are addressed by
uv = ((u + 1) / 2, (1 - v) / 2) (u right, v down), texel (i, j) centred at
uv ((j + 0.5) / T, (i + 0.5) / T) like `gan3d.render.texture`.
"""
from __future__ import annotations

import math
from typing import Mapping

import chex
import jax
import jax.numpy as jnp
import numpy as np

# (min, max) of every random face parameter, in parameter-disc units (u, v in
# [-1, 1]) for positions / widths and object units for heights (z).
DEFAULT_RANGES: dict[str, tuple[float, float]] = {
    # head
    'head_height': (0.38, 0.52),      # H: dome height (object units)
    'head_half_width': (0.74, 0.88),  # a (parameter units)
    'head_half_height': (0.92, 1.0),  # b
    'head_power': (2.0, 3.0),         # p: flatter front for larger p
    'jaw': (0.78, 0.95),              # lower-half width factor
    'skirt_depth': (0.2, 0.35),       # how far the disc rim falls back
    # eyes
    'eye_x': (0.27, 0.36),
    'eye_y': (0.12, 0.24),
    'eye_depth': (0.04, 0.09),
    'eye_sigma': (0.08, 0.12),
    # brows
    'brow_height': (0.015, 0.05),
    'brow_offset': (0.12, 0.19),      # above the eye centre
    'brow_tilt': (-0.25, 0.25),       # slope dv/du of the brow line
    # nose
    'nose_height': (0.10, 0.22),
    'nose_width': (0.045, 0.085),
    'nose_tip_y': (-0.22, -0.1),
    'nose_power': (1.0, 2.0),         # ridge profile exponent
    'nostril_height': (0.01, 0.035),
    # cheeks
    'cheek_x': (0.34, 0.5),
    'cheek_y': (-0.18, 0.0),
    'cheek_height': (0.02, 0.06),
    'cheek_sigma': (0.14, 0.22),
    # mouth
    'mouth_y': (-0.45, -0.34),
    'mouth_half_width': (0.14, 0.24),
    'lip_height': (0.015, 0.04),
    'lip_thickness': (0.022, 0.04),
    # chin
    'chin_y': (-0.74, -0.6),
    'chin_height': (0.03, 0.08),
    'chin_sigma': (0.09, 0.15),
    # texture
    'skin_tone': (0.0, 1.0),          # 0 light ... 1 dark
    'skin_jitter': (-0.06, 0.06),     # per-channel tint
    'blotch_strength': (0.01, 0.06),
    'blush': (0.0, 0.25),
    'hairline': (0.38, 0.62),         # v of the hairline at u = 0
    'hair_curve': (0.1, 0.6),         # hairline dv per u^2
    'hair_colour': (0.0, 1.0),        # position in the hair palette
    'hair_streaks': (0.02, 0.12),
    'iris_colour': (0.0, 1.0),        # position in the iris palette
    'lip_colour': (0.25, 0.7),        # blend of skin towards lip red
    'brow_darkness': (0.5, 0.95),
}

# Colour palettes (RGB in [0, 1]), interpolated piecewise linearly by a
# parameter in [0, 1].
SKIN_PALETTE = np.array([[0.98, 0.84, 0.74], [0.90, 0.70, 0.56],
                         [0.72, 0.52, 0.38], [0.50, 0.33, 0.22],
                         [0.32, 0.20, 0.13]], np.float32)
HAIR_PALETTE = np.array([[0.05, 0.04, 0.04], [0.25, 0.15, 0.08],
                         [0.50, 0.32, 0.16], [0.80, 0.64, 0.38],
                         [0.55, 0.22, 0.10], [0.70, 0.70, 0.68]], np.float32)
IRIS_PALETTE = np.array([[0.25, 0.14, 0.07], [0.40, 0.26, 0.12],
                         [0.30, 0.45, 0.25], [0.28, 0.45, 0.65],
                         [0.45, 0.55, 0.70]], np.float32)
LIP_RED = np.array([0.72, 0.28, 0.30], np.float32)


def sample_face_params(rng, ranges: Mapping[str, tuple[float, float]]
                       ) -> dict[str, jax.Array]:
  """Draws every face parameter uniformly from its (min, max) range.

  Args:
    rng: PRNG key.
    ranges: name -> (min, max); must hold every key of `DEFAULT_RANGES`.
  Returns:
    dict name -> scalar float32.
  """
  missing = set(DEFAULT_RANGES) - set(ranges)
  if missing:
    raise ValueError(f'face ranges miss {sorted(missing)}')
  names = sorted(DEFAULT_RANGES)
  lo, hi = np.array([[float(x) for x in ranges[k]] for k in names],
                    np.float32).T
  bad = [k for k, a, b in zip(names, lo, hi) if not a <= b]
  if bad:
    raise ValueError(f'face ranges {bad}: min must be <= max')
  # One draw for all parameters: few PRNG calls keep compilation fast.
  u = jax.random.uniform(rng, (len(names),), jnp.float32)
  x = lo + u * (hi - lo)
  return {k: x[i] for i, k in enumerate(names)}


def _gauss(u, v, cu, cv, su, sv):
  return jnp.exp(-0.5 * (((u - cu) / su) ** 2 + ((v - cv) / sv) ** 2))


def _head_q(p, u, v):
  """Elliptic radius of (u, v) for the head outline (jaw-narrowed below)."""
  jaw = 1.0 - (1.0 - p['jaw']) * jax.nn.sigmoid(-6.0 * v)
  a = p['head_half_width'] * jaw
  return jnp.sqrt((u / a) ** 2 + (v / p['head_half_height']) ** 2 + 1e-12)


def relief(p: Mapping[str, jax.Array], u, v):
  """Height z (object units) of the face at parameter points u, v (any shape)."""
  q = _head_q(p, u, v)
  h, pw = p['head_height'], p['head_power']
  # Inside the outline a dome; outside a C1 continuation that saturates at
  # -skirt_depth (slope -h * pw at q = 1 on both sides).
  w = p['skirt_depth'] / (h * pw)
  z = jnp.where(q <= 1.0, h * (1.0 - q ** pw),
                -p['skirt_depth'] * jnp.tanh((q - 1.0) / w))
  # Eye sockets and brows (mirror symmetric).
  for s in (-1.0, 1.0):
    z -= p['eye_depth'] * _gauss(u, v, s * p['eye_x'], p['eye_y'],
                                 1.3 * p['eye_sigma'], p['eye_sigma'])
    brow_v = p['eye_y'] + p['brow_offset'] + p['brow_tilt'] * (s * u - p['eye_x'])
    z += p['brow_height'] * _gauss(u, v, s * p['eye_x'], brow_v, 0.16, 0.045)
    z += p['cheek_height'] * _gauss(u, v, s * p['cheek_x'], p['cheek_y'],
                                    p['cheek_sigma'], p['cheek_sigma'])
    z += p['nostril_height'] * _gauss(u, v, s * 0.085, p['nose_tip_y'] + 0.02,
                                      0.04, 0.035)
  # Nose ridge: grows from the brow line to the tip, then falls off quickly.
  top, tip = p['eye_y'], p['nose_tip_y']
  t = jnp.clip((top - v) / (top - tip), 0.0, 1.0) ** p['nose_power']
  below = jnp.exp(-0.5 * (jnp.minimum(v - tip, 0.0) / 0.08) ** 2)
  width = p['nose_width'] * (0.6 + 0.6 * t)
  z += p['nose_height'] * t * below * jnp.exp(-0.5 * (u / width) ** 2)
  # Lips: two bumps with a crease between.
  my, hw, th = p['mouth_y'], p['mouth_half_width'], p['lip_thickness']
  across = jnp.exp(-0.5 * (u / (0.55 * hw)) ** 4)
  z += p['lip_height'] * across * (
      jnp.exp(-0.5 * ((v - my - th) / (0.6 * th)) ** 2)
      + 1.2 * jnp.exp(-0.5 * ((v - my + 1.1 * th) / (0.7 * th)) ** 2)
      - 0.5 * jnp.exp(-0.5 * ((v - my) / (0.3 * th)) ** 2))
  z += p['chin_height'] * _gauss(u, v, 0.0, p['chin_y'], 1.3 * p['chin_sigma'],
                                 p['chin_sigma'])
  return z


def face_vertices(p: Mapping[str, jax.Array], mesh_res: int,
                  disc_radius: float, fit_radius: float):
  """Vertices [M*M, 3] of the face on an M x M grid (row-major, rows top-down).

  Vertex (i, j) is at parameter u = -1 + 2 j / (M - 1), v = 1 - 2 i / (M - 1),
  like `gan3d.render.topology.grid_disc`, so `grid_faces(M)` triangulates the
  disc. The mesh is scaled down (about the origin) if needed so that every
  disc vertex lies within `fit_radius` <= 1 of the origin (unit ball).
  """
  t = jnp.linspace(-1.0, 1.0, mesh_res, dtype=jnp.float32)
  u, v = jnp.meshgrid(t, -t)
  return face_points(p, u, v, disc_radius, fit_radius).reshape(-1, 3)


def face_points(p: Mapping[str, jax.Array], u, v, disc_radius: float,
                fit_radius: float):
  """Object-space points [..., 3] of the face at parameter points u, v
  [...] (x = R u, y = R v, z = relief), scaled down about the origin if
  needed so that every point inside the unit parameter disc lies within
  `fit_radius` of the origin."""
  z = relief(p, u, v)
  xyz = jnp.stack([disc_radius * u, disc_radius * v, z], -1)
  in_disc = (u ** 2 + v ** 2) <= 1.0 + 1e-6
  r = jnp.sqrt(jnp.max(jnp.where(in_disc, jnp.sum(xyz ** 2, -1), 0.0)))
  return xyz * jnp.minimum(1.0, fit_radius / r)


def face_uv(mesh_res: int) -> np.ndarray:
  """UVs [M*M, 2] (u right, v down) of the vertices of `face_vertices`."""
  t = np.linspace(0.0, 1.0, mesh_res, dtype=np.float32)
  uu, vv = np.meshgrid(t, t)
  return np.stack([uu.ravel(), vv.ravel()], -1)


def _palette(palette, t):
  n = palette.shape[0] - 1
  x = jnp.clip(t, 0.0, 1.0) * n
  i = jnp.clip(jnp.floor(x).astype(jnp.int32), 0, n - 1)
  f = x - i
  pal = jnp.asarray(palette)
  return pal[i] * (1 - f) + pal[i + 1] * f


def _interp_matrix(size: int, cells: int) -> np.ndarray:
  """[size, cells + 1] weights: C1 (smoothstep) interpolation of cells + 1
  lattice values at `size` pixel centres spanning the lattice."""
  x = (np.arange(size) + 0.5) / size * cells
  i0 = np.clip(np.floor(x).astype(int), 0, cells - 1)
  f = x - i0
  f = f * f * (3 - 2 * f)
  m = np.zeros((size, cells + 1), np.float32)
  m[np.arange(size), i0] = 1 - f
  m[np.arange(size), i0 + 1] += f
  return m


def smooth_noise(lattice, size: int):
  """Smooth noise [size, size, C] interpolating lattice [cy + 1, cx + 1, C].

  Separable smoothstep interpolation (matrix products: cheap to compile and
  run). With standard normal lattice values the result is zero-mean noise
  with features at the lattice scale.
  """
  cy, cx = lattice.shape[0] - 1, lattice.shape[1] - 1
  return jnp.einsum('ia,abc,jb->ijc', _interp_matrix(size, cy), lattice,
                    _interp_matrix(size, cx))


def _normals(rng, shapes):
  """Standard normal arrays of the given shapes from a single PRNG draw."""
  sizes = [int(np.prod(s)) for s in shapes]
  flat = jax.random.normal(rng, (sum(sizes),))
  out, start = [], 0
  for shape, n in zip(shapes, sizes):
    out.append(flat[start:start + n].reshape(shape))
    start += n
  return out


def _soft_inside(signed, softness):
  """1 inside (signed < 0), 0 outside, smooth over `softness`."""
  return jax.nn.sigmoid(-signed / softness)


def face_texture(p: Mapping[str, jax.Array], rng, tex_res: int):
  """Albedo texture [T, T, 3] in [0, 1] over the parameter square.

  Texel (i, j) is at u = 2 (j + 0.5) / T - 1, v = 1 - 2 (i + 0.5) / T.
  """
  c = (jnp.arange(tex_res, dtype=jnp.float32) + 0.5) / tex_res * 2.0 - 1.0
  u, v = jnp.meshgrid(c, -c)
  soft = 2.0 / tex_res                      # about one texel
  g_blotch, g_hair = _normals(rng, [(9, 9, 1), (9, tex_res // 2 + 1, 1)])
  skin = _palette(SKIN_PALETTE, p['skin_tone'])
  skin = skin + p['skin_jitter'] * jnp.array([1.0, 0.3, -0.6])
  col = jnp.broadcast_to(skin, u.shape + (3,))
  blotch = smooth_noise(g_blotch, tex_res)
  col = col * (1.0 + p['blotch_strength'] * blotch)
  # Cheek blush.
  for s in (-1.0, 1.0):
    w = p['blush'] * _gauss(u, v, s * p['cheek_x'], p['cheek_y'], 0.14, 0.12)
    col = col * (1 - w[..., None]) + w[..., None] * LIP_RED
  # Lips.
  my, hw, th = p['mouth_y'], p['mouth_half_width'], p['lip_thickness']
  lip_col = skin * (1 - p['lip_colour']) + p['lip_colour'] * LIP_RED
  lip_d = jnp.sqrt((u / hw) ** 2 + ((v - my) / (2.2 * th)) ** 2) - 1.0
  lip = _soft_inside(lip_d, 0.1)
  col = col * (1 - lip[..., None]) + lip[..., None] * lip_col
  crease = jnp.exp(-0.5 * ((v - my) / (0.25 * th)) ** 2) * _soft_inside(
      jnp.abs(u) / hw - 0.9, 0.05)
  col = col * (1 - 0.6 * crease[..., None])
  # Eyes, brows.
  hair = _palette(HAIR_PALETTE, p['hair_colour'])
  iris_col = _palette(IRIS_PALETTE, p['iris_colour'])
  for s in (-1.0, 1.0):
    ex, ey = s * p['eye_x'], p['eye_y']
    sclera = _soft_inside(jnp.sqrt(((u - ex) / 0.085) ** 2
                                   + ((v - ey) / 0.04) ** 2) - 1.0, 0.08)
    col = col * (1 - sclera[..., None]) + sclera[..., None] * jnp.array(
        [0.93, 0.92, 0.90])
    r = jnp.sqrt((u - ex) ** 2 + (v - ey) ** 2)
    iris = _soft_inside(r - 0.033, soft) * sclera
    col = col * (1 - iris[..., None]) + iris[..., None] * iris_col
    pupil = _soft_inside(r - 0.013, soft) * sclera
    col = col * (1 - pupil[..., None]) + pupil[..., None] * 0.03
    lid = jnp.exp(-0.5 * ((v - ey - 0.04 * jnp.sqrt(jnp.maximum(
        1 - ((u - ex) / 0.09) ** 2, 0.0))) / 0.008) ** 2) * (
            jnp.abs(u - ex) < 0.095)
    col = col * (1 - 0.7 * lid[..., None])
    brow_v = ey + p['brow_offset'] + p['brow_tilt'] * (s * u - p['eye_x'])
    brow = _soft_inside(jnp.sqrt(((u - ex) / 0.12) ** 2
                                 + ((v - brow_v) / 0.022) ** 2) - 1.0, 0.15)
    brow = brow * p['brow_darkness']
    col = col * (1 - brow[..., None]) + brow[..., None] * hair
  # Hair: above the hairline, and around the head outline at the sides.
  hairline = p['hairline'] - p['hair_curve'] * u ** 2
  top = _soft_inside(hairline - v, soft * 2)
  side = _soft_inside(0.93 - _head_q(p, u, v), 0.02) * _soft_inside(
      (p['eye_y'] - 0.05) - v, 0.03)
  hair_w = jnp.maximum(top, side)
  streak = smooth_noise(g_hair, tex_res)
  hair_tex = hair * (1 + p['hair_streaks'] * 3 * streak)
  col = col * (1 - hair_w[..., None]) + hair_w[..., None] * hair_tex
  return jnp.clip(col, 0.0, 1.0)


def background(rng, size: int, noise_octaves: int, noise_strength,
               texture_strength):
  """Natural-looking background [size, size, 3] in [0, 1]; never one colour.

  A linear gradient between two random colours, plus coloured multi-scale
  noise (octaves of 2, 4, 8, ... cells, amplitude halving per octave,
  total strength drawn from `noise_strength` = (min, max), min > 0), plus a
  random oriented stripe / cell texture with weight drawn from
  `texture_strength` = (min, max).
  """
  k_u, k_n = jax.random.split(rng)
  u = jax.random.uniform(k_u, (16,))
  c1, c2, tint = u[0:3], u[3:6], 0.5 + 0.5 * u[6:9]
  ang, phi, phase = 2 * math.pi * u[9], math.pi * u[10], 2 * math.pi * u[11]
  strength = noise_strength[0] + u[12] * (noise_strength[1] - noise_strength[0])
  freq, mix = 3.0 + 11.0 * u[13], u[14]
  tw = texture_strength[0] + u[15] * (texture_strength[1] - texture_strength[0])
  t = (jnp.arange(size, dtype=jnp.float32) + 0.5) / size * 2.0 - 1.0
  x, y = jnp.meshgrid(t, t)
  proj = 0.5 + 0.35 * (x * jnp.cos(ang) + y * jnp.sin(ang))
  img = c1 * (1 - proj[..., None]) + c2 * proj[..., None]
  cells = [2 ** (o + 1) for o in range(noise_octaves)]
  lattices = _normals(k_n, [(c + 1, c + 1, 4) for c in cells])
  noise = jnp.zeros((size, size, 3))
  for o, g in enumerate(lattices):
    n = smooth_noise(g, size)           # [size, size, 4]: luminance, chroma
    noise = noise + (0.5 ** o) * (0.7 * n[..., :1] + 0.3 * n[..., 1:])
  img = img + strength * noise
  # Oriented stripes mixed with a cell (checker) pattern.
  stripes = jnp.sin(freq * math.pi * (x * jnp.cos(phi) + y * jnp.sin(phi))
                    + phase)
  cellp = jnp.sign(jnp.sin(freq * 1.3 * x + phase) * jnp.sin(freq * 1.3 * y))
  pattern = mix * stripes + (1 - mix) * 0.5 * cellp
  img = img + tw * pattern[..., None] * tint
  return jnp.clip(img, 0.0, 1.0)


def lambert(normals, light_dir, ambient):
  """Lambertian shading factor [H, W] for camera-space unit normals [H, W, 3].

  Normals are taken two-sided (flipped to face the camera, +z). light_dir [3]
  is a unit vector pointing from the surface towards the light.
  """
  chex.assert_rank(normals, 3)
  n = normals * jnp.where(normals[..., 2:3] < 0, -1.0, 1.0)
  return ambient + (1.0 - ambient) * jnp.maximum(n @ light_dir, 0.0)
