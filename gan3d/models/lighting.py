"""Lambertian lighting of the generated mesh, with a light prior.

Not in the paper's experiments: its section 9 names lighting as the next
step ("specularity and illumination can be added to the renderer model ...
the representation of lights as random variables during training needs
extensive experimental evaluation"). Here the light is such a random
variable, drawn from a known prior p_l like the viewpoint (section 4), and
the texture is the albedo:

  I(x) = albedo(x) (a + (1 - a) max(0, n(x) . l))          (Lambert)

with n the unit surface normal facing the camera (two-sided, as in
`gan3d.data.faces.lambert`), l the unit direction towards the light in the
camera frame, a the ambient fraction. Prior (``config.light``):

  model = 'camera': l within ``spread_deg`` of the viewing axis (+z), uniform
    over the projected disc of that cone (a = spread sqrt(u1), phi = 2 pi
    u2), the cone's centre turned up (+y) by ``tilt_deg`` (default 0), a
    uniform in ``ambient`` = (min, max): the family of lights of the
    synthetic data set (`gan3d.data.synthetic`, light_frame='camera');
  model = 'none': no shading (the paper's generator; I = albedo);
  ``leak`` (default 0, Lambert): max(0, n . l) becomes max(0, n . l) +
  leak min(0, n . l) in the generator only (`shading_factor`);
  ``bounded_albedo`` (default False): albedo tanh(texture) (`shade_textures`).

Why it could matter for shape: without lighting, the relief inside the
outline is constrained only through texture features that move as the head
turns; with it, every pixel's brightness depends on the surface normal
there, so the image gradient reaches the shape everywhere. Measured on the
synthetic faces (docs/synthetic_study.md "A light prior makes the shapes
worse", 600 steps, two seeds): the shapes got deeper and leaned down, with
worse depth and normal errors than without it, so it is off by default
(with the smoothness prior too, "The GAN's own knobs", 2026-11-29). With
the light tilted up or down the shapes lean away from it, even from the
data's own mean face (docs/synthetic_study.md "The lit generator turns its
surface away from the light", 2026-11-28).

Shading is applied in texture space: every texel of the 2N x 2N texture
gets the normal of the mesh at its UV position (the vertex normals of the
N x N shape image, bilinearly upsampled with the UV convention of
`gan3d.render.topology.grid_uv`), and the renderer then samples the shaded
texture. The renderer's own outputs (depth, normals, alpha) are unchanged.
"""
from __future__ import annotations

import math
from typing import Any

import chex
import jax
import jax.numpy as jnp

from gan3d.render import camera
from gan3d.render import safe_math
from gan3d.render import topology

LIGHT_MODELS = ('none', 'camera')


def light_model(config: Any) -> str:
  """``config.light.model`` ('none' when the config has no light section)."""
  light = config.get('light', None) if hasattr(config, 'get') else None
  model = 'none' if light is None else str(light.model)
  if model not in LIGHT_MODELS:
    raise ValueError(f'light.model={model!r}: must be one of {LIGHT_MODELS}')
  return model


def sample_lights(rng: jax.Array, batch: int, light_cfg: Any) -> jax.Array:
  """Lights ``[batch, 4]`` from the prior: camera-frame unit direction towards
  the light (3) and the ambient fraction (1)."""
  lo, hi = (float(x) for x in light_cfg.ambient)
  u = jax.random.uniform(rng, (batch, 3))
  direction = camera.light_cone(u[:, 0], u[:, 1], math.radians(float(light_cfg.spread_deg)),
                                math.radians(float(light_cfg.get('tilt_deg', 0.0))))
  ambient = lo + u[:, 2] * (hi - lo)
  return jnp.concatenate([direction, ambient[:, None]], -1)


def frontal_lights(batch: int, light_cfg: Any) -> jax.Array:
  """A fixed light ``[batch, 4]`` for figures: on the viewing axis, with the
  prior's mean ambient."""
  lo, hi = (float(x) for x in light_cfg.ambient)
  one = jnp.array([0.0, 0.0, 1.0, 0.5 * (lo + hi)], jnp.float32)
  return jnp.tile(one[None], (batch, 1))


def prior_lights(rng: jax.Array, batch: int, config: Any):
  """`sample_lights` from ``config.light``, or None with ``light.model`` none."""
  if light_model(config) == 'none':
    return None
  return sample_lights(rng, batch, config.light)


def figure_lights(batch: int, config: Any):
  """`frontal_lights` from ``config.light``, or None with ``light.model`` none."""
  if light_model(config) == 'none':
    return None
  return frontal_lights(batch, config.light)


def _upsample2(grid: jax.Array) -> jax.Array:
  """``[N, N, C]`` -> ``[2N, 2N, C]`` at the texel centres of `grid_uv`'s
  texture: texel t lies at grid coordinate (t - 0.5) / 2 (edge-clamped)."""
  n = grid.shape[0]
  return jax.image.resize(grid, (2 * n, 2 * n, grid.shape[-1]), 'linear')


def shading_factor(vertices: jax.Array, faces: jax.Array, viewpoint: jax.Array,
                   light: jax.Array, camera_distance: float,
                   leak: float = 0.0) -> jax.Array:
  """Lambert factor per texel for one mesh.

  Args:
    vertices: ``[N*N, 3]`` object-space shape image (row-major).
    faces: ``[F, 3]`` int32 (the grid's disc faces).
    viewpoint: ``[2]`` (yaw, pitch) radians.
    light: ``[4]`` camera-frame direction towards the light and ambient.
    camera_distance: the camera's distance on +z (RenderSettings).
    leak: slope of the factor where the texel faces away from the light
      (``config.light.leak``; 0 = Lambert): a + (1 - a) (max(0, n.l) +
      leak min(0, n.l)), at least 0. With 0 a texel in attached shadow
      gets no gradient from its brightness, like a dead ReLU.
  Returns:
    ``[2N, 2N]`` factor in [a, 1] (in [max(0, a - leak (1 - a)), 1] with a leak).
  """
  n = math.isqrt(vertices.shape[0])
  chex.assert_shape(vertices, (n * n, 3))
  chex.assert_shape(light, (4,))
  rot = camera.rotation_matrix(viewpoint).astype(vertices.dtype)
  normals = topology.vertex_normals(vertices, faces) @ rot.T       # camera frame
  points = vertices @ rot.T
  texel_n = safe_math.safe_normalize(_upsample2(normals.reshape(n, n, 3)))
  texel_p = _upsample2(points.reshape(n, n, 3))
  # Two-sided: the normal that faces the camera (at (0, 0, D)).
  ray = texel_p - jnp.array([0.0, 0.0, camera_distance], vertices.dtype)
  facing = jnp.sum(texel_n * ray, -1, keepdims=True) > 0
  texel_n = jnp.where(facing, -texel_n, texel_n)
  ambient = light[3]
  cos = texel_n @ light[:3]
  if not leak:
    return ambient + (1.0 - ambient) * jnp.maximum(cos, 0.0)
  diffuse = jnp.maximum(cos, 0.0) + leak * jnp.minimum(cos, 0.0)
  return jnp.maximum(ambient + (1.0 - ambient) * diffuse, 0.0)


def shade_textures(texture: jax.Array, vertices: jax.Array, faces: jax.Array,
                   viewpoint: jax.Array, light: jax.Array,
                   camera_distance: float, leak: float = 0.0,
                   bounded_albedo: bool = False) -> jax.Array:
  """Lit textures for a batch: albedo ``texture [B, 2N, 2N, 3]`` in [-1, 1]
  (the generator's range) -> ``[B, 2N, 2N, 3]`` in [-1, 1].

  vertices ``[B, N*N, 3]``, viewpoint ``[B, 2]``, light ``[B, 4]``. The
  product is taken in [0, 1] (as the data's), i.e. (texture + 1) s - 1.
  ``bounded_albedo`` (``config.light.bounded_albedo``): the albedo is
  tanh(texture), inside (-1, 1) like the data's, instead of the texture as
  it is (unbounded: a surface turned away from the light can then be made
  as bright as a lit one by an albedo above white).
  """
  b = texture.shape[0]
  chex.assert_shape(viewpoint, (b, 2))
  chex.assert_shape(light, (b, 4))
  s = jax.vmap(shading_factor, in_axes=(0, None, 0, 0, None, None))(
      vertices, faces, viewpoint, light, float(camera_distance), float(leak))
  chex.assert_shape(s, texture.shape[:3])
  if bounded_albedo:
    texture = jnp.tanh(texture)
  return (texture + 1.0) * s[..., None] - 1.0
