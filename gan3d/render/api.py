"""`render_mesh`: the public entry point of the differentiable renderer.

Pipeline (paper section 5, read as in renderer-notes.md):
  camera.py      rotate by the viewpoint, perspective projection (section 6)
  rasterize.py   fixed K x K pixel window per triangle; crisp layer (eqs 6-8)
  soft.py        soft layer (eqs 9-11, corrected)
  texture.py     UV mapping, bilinear sampling
  composite.py   eq 12 (corrected)
and, for speed on XLA:CPU: indexing.py (scatters that stay flat under vmap),
fusion.py (per-pair values computed once), soa.py (structure-of-arrays).

Gradients (`jax.custom_vjp`). The rendered image is continuous in the vertex
positions except where two surfaces swap depth order, and piecewise smooth:
which triangle wins each pixel and which (pixel, triangle) pairs make up the
soft layer are constant almost everywhere. The forward pass finds these
discrete choices once (no gradient), then computes every output as a smooth
function of the vertices, attributes, texture and background given those
choices (`_shade`). The backward rule recomputes `_shade` and takes its
vector-Jacobian product: it is the exact gradient almost everywhere,
silhouettes and occlusion boundaries included, because there the soft layer's
weight w = 1 - d/B carries the whole dependence on the edge position. The
backward rule is plain jax.numpy, so it can be differentiated again (StyleGAN2's
path-length regulariser). Residuals kept between forward and backward are the
inputs and the discrete choices: O(F K^2 + H W) integers and booleans, never
anything of size triangles x pixels. The soft layer's visible pairs are
compacted into a list of static length (`soft.compact_pairs`), so the
differentiable soft layer and the backward pass touch those pairs only.

Defined behaviour on degenerate input (documented, tested):
  * triangles with a non-finite vertex, a vertex at depth <= near (behind the
    camera) or screen area <= min_area are dropped: they draw nothing and get
    zero gradient; non-finite vertices get zero gradient;
  * triangles partly or wholly off-screen draw what is on screen; a mesh
    entirely off-screen gives the background with alpha 0;
  * triangles larger than the window are clipped to it and counted in
    `RenderOutput.overflow` (use `suggest_window`).
"""
from __future__ import annotations

import functools
from typing import Optional

import chex
import flax
import jax
import jax.numpy as jnp
import numpy as np

from gan3d.render import camera
from gan3d.render import composite as composite_lib
from gan3d.render import indexing
from gan3d.render import rasterize
from gan3d.render import safe_math
from gan3d.render import soft as soft_lib
from gan3d.render import texture as texture_lib
from gan3d.render import topology
from gan3d.render.settings import RenderSettings


@flax.struct.dataclass
class RenderOutput:
  """What `render_mesh` returns (a pytree; shapes for one mesh).

  image: [H, W, C] the eq-12 composite of soft, crisp and background.
  alpha: [H, W] total coverage alpha_s + (1 - alpha_s) alpha_c.
  mask: [H, W] crisp coverage alpha_c (0 or 1), no gradient.
  depth: [H, W] crisp depth z_c (distance along the viewing axis), z_far
    where empty.
  normals: [H, W, 3] camera-space unit normals of the crisp layer
    (interpolated area-weighted vertex normals; +z faces the camera), 0 where
    empty.
  triangle_id: [H, W] int32 crisp triangle index, -1 where empty.
  overflow: [] int32, number of drawn triangles clipped by the window.
  soft_overflow: [] int32, number of visible soft-layer pairs dropped because
    they exceed `settings.soft_pairs_per_pixel` * H * W (0 in normal use).
  """
  image: jax.Array
  alpha: jax.Array
  mask: jax.Array
  depth: jax.Array
  normals: jax.Array
  triangle_id: jax.Array
  overflow: jax.Array
  soft_overflow: jax.Array


def _shade_impl(settings: RenderSettings, discrete, v, vattr, texture,
                background):
  """Smooth outputs given the discrete choices; see the module docstring."""
  faces, valid, tri_id, soft_sets = discrete
  h, w = settings.height, settings.width
  xy, depth = camera.project_camera(v, settings)
  tri_xy, tri_z = rasterize.sanitize(indexing.take(xy, faces),
                                     indexing.take(depth, faces), valid)
  tri_attr = indexing.take(vattr, faces)
  attr_c, depth_c, alpha_c, weights, t = rasterize.crisp_layer(
      tri_id, tri_xy, tri_z, tri_attr, settings)
  colour_c = (attr_c if texture is None
              else texture_lib.sample_bilinear(texture, attr_c))
  # Uncovered pixels sample a dummy point; keep a NaN texel there out.
  colour_c = jnp.where(alpha_c[:, None] > 0, colour_c, 0.0)
  vn = topology.vertex_normals(v, faces)
  normals = safe_math.safe_normalize(rasterize.interpolate_corners(
      weights, rasterize.gather_corners(indexing.take(vn, faces), t)))
  bg = background.reshape(h * w, -1)
  if settings.soft:
    a_s, alpha_s = soft_lib.soft_layer(soft_sets, xy, depth, vattr, settings,
                                       texture)
  else:
    a_s, alpha_s = None, None
  image, alpha = composite_lib.composite(colour_c, alpha_c, a_s, alpha_s, bg)
  return (image.reshape(h, w, -1), alpha.reshape(h, w),
          depth_c.reshape(h, w), normals.reshape(h, w, 3))


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _shade(settings, discrete, v, vattr, texture, background):
  return _shade_impl(settings, discrete, v, vattr, texture, background)


def _shade_fwd(settings, *args):
  # symbolic_zeros=True: every input leaf comes wrapped (value, perturbed).
  args = jax.tree.map(lambda x: x.value, args, is_leaf=lambda x: isinstance(
      x, jax.custom_derivatives.CustomVJPPrimal))
  return _shade_impl(settings, *args), args


def _shade_bwd(settings, res, g):
  """VJP of `_shade_impl` for the outputs whose cotangent is not a symbolic
  zero: an output nothing downstream depends on (often the normal map, whose
  vertex normals cost a scatter over the faces) is not recomputed, nor is
  its transpose."""
  discrete, v, vattr, texture, background = res
  used = tuple(i for i, gi in enumerate(g)
               if not isinstance(gi, jax.custom_derivatives.SymbolicZero))
  if not used:
    zeros = jax.tree.map(jnp.zeros_like, (v, vattr, texture, background))
    return (None,) + zeros

  def outputs(*inputs):
    out = _shade_impl(settings, discrete, *inputs)
    return tuple(out[i] for i in used)

  _, vjp = jax.vjp(outputs, v, vattr, texture, background)
  return (None,) + tuple(vjp(tuple(g[i] for i in used)))


_shade.defvjp(_shade_fwd, _shade_bwd, symbolic_zeros=True)


def _check_inputs(vertices, faces, settings, attributes, uv, texture,
                  background, viewpoint):
  """Static (trace-time) checks with messages that name the argument."""
  if not isinstance(settings, RenderSettings):
    raise TypeError(f'settings must be a RenderSettings, got {type(settings)}')
  if vertices.ndim != 2 or vertices.shape[-1] != 3:
    raise ValueError(f'vertices must be [V, 3], got shape {vertices.shape}; '
                     'use jax.vmap for batches')
  if faces.ndim != 2 or faces.shape[-1] != 3:
    raise ValueError(f'faces must be [F, 3], got shape {faces.shape}')
  if not jnp.issubdtype(faces.dtype, jnp.integer):
    raise TypeError(f'faces must be integer, got {faces.dtype}')
  if isinstance(faces, np.ndarray) and faces.size and (
      faces.min() < 0 or faces.max() >= vertices.shape[0]):
    raise ValueError(f'faces index vertices out of range [0, '
                     f'{vertices.shape[0]}): min {faces.min()}, max '
                     f'{faces.max()}')
  if (attributes is None) == (uv is None):
    raise ValueError('pass exactly one of attributes=[V, C] or uv=[V, 2] '
                     '(with texture=[Ht, Wt, C])')
  if attributes is not None:
    if attributes.ndim != 2 or attributes.shape[0] != vertices.shape[0]:
      raise ValueError(f'attributes must be [V={vertices.shape[0]}, C], got '
                       f'{attributes.shape}')
    if texture is not None:
      raise ValueError('texture needs uv=, not attributes=')
    channels = attributes.shape[1]
  else:
    if uv.shape != (vertices.shape[0], 2):
      raise ValueError(f'uv must be [V={vertices.shape[0]}, 2], got '
                       f'{uv.shape}')
    if texture is None or texture.ndim != 3:
      raise ValueError('uv= needs texture=[Ht, Wt, C], got '
                       f'{None if texture is None else texture.shape}')
    channels = texture.shape[2]
  if background is not None and background.shape != (
      settings.height, settings.width, channels):
    raise ValueError(f'background must be [H={settings.height}, '
                     f'W={settings.width}, C={channels}], got '
                     f'{background.shape}')
  if viewpoint is not None and jnp.shape(viewpoint) != (2,):
    raise ValueError(f'viewpoint must be [2] (yaw, pitch) radians, got '
                     f'shape {jnp.shape(viewpoint)}')
  return channels


def render_mesh(vertices, faces, *, settings: RenderSettings,
                attributes=None, uv=None, texture=None, background=None,
                viewpoint=None) -> RenderOutput:
  """Renders one triangle mesh with the soft rasterizer of the paper.

  Args:
    vertices: [V, 3] float, object space (x right, y up, z towards camera).
    faces: [F, 3] int, vertex indices; counter-clockwise = front-facing.
    settings: `RenderSettings` (static: hashable, recompiles when changed).
    attributes: [V, C] per-vertex attributes (colours, normals, anything), or
    uv: [V, 2] texture coordinates (u right, v down, [0, 1]) together with
    texture: [Ht, Wt, C], sampled bilinearly, separately for the crisp layer
      and for every soft contribution.
    background: [H, W, C] or None (zeros).
    viewpoint: [2] (yaw, pitch) radians rotating the object, or None.

  Returns:
    `RenderOutput`. Composable with jit, vmap (use it for batches) and grad;
    gradients flow to vertices, attributes/uv, texture and background.
  """
  vertices = jnp.asarray(vertices)
  # numpy inputs (e.g. topology.grid_uv) must become jax arrays: indexing a
  # numpy array with a traced index fails under jit.
  attributes, uv, texture, background, viewpoint = (
      None if x is None else jnp.asarray(x)
      for x in (attributes, uv, texture, background, viewpoint))
  channels = _check_inputs(vertices, faces, settings, attributes, uv, texture,
                           background, viewpoint)
  faces = jnp.asarray(faces, jnp.int32)
  dtype = vertices.dtype
  if background is None:
    background = jnp.zeros((settings.height, settings.width, channels), dtype)
  vattr = attributes if attributes is not None else uv
  v = camera.to_camera(vertices, viewpoint)
  finite_vertex = jnp.all(jnp.isfinite(v), axis=-1)
  v = jnp.where(finite_vertex[:, None], v, 0.0)

  # Discrete choices: no gradient flows through any of these.
  dp = soft_lib.discrete_passes(v, faces, settings, finite_vertex)
  wp, valid, tri_id = dp.window, dp.window.valid, dp.tri_id
  if settings.soft:
    (tri, spix, svis, sarg, sedge), soft_overflow = soft_lib.compact_pairs(
        wp.pix, dp.vis, dp.w, dp.edge, settings)
    soft_sets = soft_lib.edge_endpoints(faces, tri, sedge) + (spix, svis, sarg)
  else:
    soft_sets, soft_overflow = None, jnp.zeros((), jnp.int32)

  image, alpha, depth_map, normals = _shade(
      settings, (faces, valid, tri_id, soft_sets), v, vattr, texture,
      background)
  tri_map = tri_id.reshape(settings.height, settings.width)
  return RenderOutput(image=image, alpha=alpha,
                      mask=(tri_map >= 0).astype(dtype), depth=depth_map,
                      normals=normals, triangle_id=tri_map, overflow=wp.overflow,
                      soft_overflow=soft_overflow)


def box_downsample(x, f: int):
  """``[H f, W f, ...]`` -> ``[H, W, ...]``: the mean of each f x f pixel
  block, how a render made at f times the resolution becomes the image (the
  synthetic photos, `gan3d.data.synthetic`; ``render.supersample`` of the
  generator, `gan3d.models.generator.render_scene`)."""
  h, w = x.shape[:2]
  return x.reshape((h // f, f, w // f, f) + x.shape[2:]).mean(axis=(1, 3))


# One compiled program per settings and shapes: run eagerly, the projection's
# few dozen operations each cost a dispatch (and a compilation on first use).
_project_jit = jax.jit(camera.project, static_argnums=(2,))


def suggest_window(vertices, faces, settings: RenderSettings,
                   viewpoints=None) -> int:
  """Smallest window K that clips no triangle for these inputs (host-side):
  with ``settings.window >= suggest_window(...)`` the ``overflow`` output is 0.

  vertices [V, 3] or [B, V, 3]; viewpoints None, [2] or [B, 2].
  """
  vertices = np.asarray(vertices, np.float64)
  faces = np.asarray(faces)
  if vertices.ndim == 2:
    vertices = vertices[None]
  vps = [None] * len(vertices) if viewpoints is None else (
      np.broadcast_to(np.asarray(viewpoints), (len(vertices), 2)))
  k = 1
  for verts, vp in zip(vertices, vps):
    xy, depth = _project_jit(jnp.asarray(verts), None if vp is None
                             else jnp.asarray(vp), settings)
    tri = np.asarray(xy)[faces]
    ok = np.all(np.asarray(depth)[faces] > settings.near, 1) & np.all(
        np.isfinite(tri), (1, 2))
    if not ok.any():
      continue
    first, last = (np.asarray(a) for a in rasterize.pixel_span(tri[ok], settings))
    on_screen = np.all(last >= first, axis=1)
    if on_screen.any():
      k = max(k, int((last - first + 1)[on_screen].max()))
      # The z-buffer's window (`rasterize.crisp_window`) is K - floor(2 B)
      # over the unextended box, which the image border can leave larger.
      first_c, last_c = (np.asarray(a) for a in rasterize.pixel_span(
          tri[ok], settings, extension=0.0))
      k = max(k, int((last_c - first_c + 1)[on_screen].max())
              + int(np.floor(2.0 * settings.extension)))
  return k
