"""The two StyleGAN generators G_o, G_b and ``generate`` (paper sections 6-7).

G_o maps ``z_o`` to a ``[2N, 2N, 3K + 3]`` image: 3K shape channels (eq 13's
pyramid levels, pooled to N) and a 3-channel texture. G_b maps ``z_b`` to a
``[2N, 2N, 3]`` background. ``generate`` is the single path used by training,
sampling, evaluation and export: latents -> styles (mixing, truncation) ->
synthesis -> scene (shape image, mesh, texture, background crop) -> rendered
images, via ``gan3d.render.render_mesh`` vmapped over the batch.

Parameters are plain pytrees: ``{'object': <G_o params>, 'background': <G_b
params>}``, each ``{'mapping': ..., 'synthesis': ...}``.
"""

from __future__ import annotations

import functools
from typing import Any, Optional

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp

from gan3d import representation
from gan3d.models import layers
from gan3d.models import lighting
from gan3d.models.mapping import MappingNetwork
from gan3d.models.synthesis import SynthesisNetwork, num_ws_for

GENERATORS = ('object', 'background')
SHAPE_BRANCHES = representation.SHAPE_BRANCHES


class StyleGenerator(nn.Module):
  """Mapping + synthesis. ``__call__(z, noise_key)`` is the plain forward."""
  z_dim: int
  w_dim: int
  mapping_layers: int
  mapping_lr_mult: float
  resolution: int
  out_channels: int
  channel_base: int
  channel_max: int
  conv_impl: str = 'native'
  coarse_channels: int = 0
  coarse_max_res: int = 0
  coarse_separate: bool = False
  skip_pad: str = 'zero'          # model.skip_pad (SynthesisNetwork)
  # model.learned_base_mult (G_o only): a learned shape base ``[base_size,
  # base_size, base_channels]`` (base_size: model.learned_base_res), zero at
  # the start, read as ``base_mult *`` the parameter (`learned_base`). 0
  # channels = none.
  base_channels: int = 0
  base_size: int = 0
  base_mult: float = 0.0

  def setup(self):
    self.mapping = MappingNetwork(self.z_dim, self.w_dim, self.mapping_layers,
                                  self.mapping_lr_mult)
    self.synthesis = SynthesisNetwork(self.resolution, self.out_channels, self.w_dim,
                                      self.channel_base, self.channel_max,
                                      conv_impl=self.conv_impl,
                                      coarse_channels=self.coarse_channels,
                                      coarse_max_res=self.coarse_max_res,
                                      coarse_separate=self.coarse_separate,
                                      skip_pad=self.skip_pad)
    if self.base_channels:
      self.shape_base = layers.param(self, 'shape_base', 'constant', 0.0,
                                     (self.base_size, self.base_size, self.base_channels))

  def learned_base(self) -> jax.Array:
    """The learned shape base ``[R, R, 3K]`` (``base_mult`` x its
    parameter); `synthesize` resizes it to the shape image's n and
    `build_scene` adds it to the raw shape channels."""
    if not self.base_channels:
      raise ValueError('this generator has no learned base (model.learned_base_mult = 0)')
    return self.shape_base * self.base_mult

  def map(self, z: jax.Array) -> jax.Array:
    """``z [B, z_dim] -> w [B, w_dim]``."""
    return self.mapping(z)

  def synthesize(self, ws: jax.Array, noise_key: Optional[jax.Array],
                 stage_res: Optional[int] = None, fade_alpha=1.0) -> jax.Array:
    """``ws [B, num_ws, w_dim] -> [B, stage_res, stage_res, out_channels]``."""
    return self.synthesis(ws, noise_key, stage_res, fade_alpha)

  def __call__(self, z: jax.Array, noise_key: Optional[jax.Array] = None) -> jax.Array:
    w = self.mapping(z)
    ws = jnp.broadcast_to(w[:, None], (w.shape[0], num_ws_for(self.resolution), w.shape[-1]))
    return self.synthesis(ws, noise_key)


def _check_config(config: Any) -> None:
  m = config.model
  layers.check_power_of_two(config.resolution, 'config.resolution', minimum=4)
  if int(m.shape_pyramid_levels) < 1:
    raise ValueError(f'config.model.shape_pyramid_levels must be >= 1, got {m.shape_pyramid_levels}')
  if not 0.0 <= float(m.style_mixing_prob) <= 1.0:
    raise ValueError(f'config.model.style_mixing_prob must be in [0, 1], got {m.style_mixing_prob}')
  if float(m.s_max) <= 0:
    raise ValueError(f'config.model.s_max must be > 0, got {m.s_max}')
  smr = int(m.get('shape_max_res', 0))
  if smr:
    layers.check_power_of_two(smr, 'config.model.shape_max_res', minimum=4)
    if smr > 2 * int(config.resolution):
      raise ValueError(f'config.model.shape_max_res must be 0 (off) or a power of two in '
                       f'[4, 2 * resolution = {2 * int(config.resolution)}], got {smr}')
  pad = str(m.get('skip_pad', 'zero'))
  if pad not in layers.UPSAMPLE_PADS:
    raise ValueError(f'config.model.skip_pad must be one of {layers.UPSAMPLE_PADS}, got {pad!r}')
  branch = str(m.get('shape_branch', 'shared'))
  if branch not in SHAPE_BRANCHES:
    raise ValueError(f'config.model.shape_branch must be one of {SHAPE_BRANCHES}, got {branch!r}')
  if branch == 'separate' and not smr:
    raise ValueError("config.model.shape_branch='separate' needs config.model.shape_max_res > 0 "
                     '(the separate shape tower runs up to that resolution)')


def make_generator(config: Any, which: str) -> StyleGenerator:
  """The Flax module of G_o (``which='object'``) or G_b (``'background'``).

  Both run at ``2 * config.resolution``; G_o has ``3K + 3`` output channels.
  """
  _check_config(config)
  m = config.model
  coarse_channels, coarse_max_res, separate = 0, 0, False
  base_mult = learned_base_mult(config)
  base_channels = 0
  if which == 'object':
    out = 3 * int(m.shape_pyramid_levels) + 3
    base_channels = 3 * int(m.shape_pyramid_levels) if base_mult else 0
    coarse_max_res = int(m.get('shape_max_res', 0))
    coarse_channels = 3 * int(m.shape_pyramid_levels) if coarse_max_res else 0
    separate = str(m.get('shape_branch', 'shared')) == 'separate'
  elif which == 'background':
    out = 3
  else:
    raise ValueError(f'unknown generator {which!r} (expected one of {GENERATORS})')
  return StyleGenerator(
      z_dim=int(m.z_dim), w_dim=int(m.w_dim), mapping_layers=int(m.mapping_layers),
      mapping_lr_mult=float(m.mapping_lr_mult), resolution=2 * int(config.resolution),
      out_channels=out, channel_base=int(m.channel_base), channel_max=int(m.channel_max),
      conv_impl=layers.resolve_conv_impl(str(m.get('conv_impl', 'auto'))),
      coarse_channels=coarse_channels, coarse_max_res=coarse_max_res,
      coarse_separate=separate, skip_pad=str(m.get('skip_pad', 'zero')),
      base_channels=base_channels,
      base_size=learned_base_res(config) if base_channels else 0,
      base_mult=base_mult if base_channels else 0.0)


def learned_base_mult(config: Any) -> float:
  """``config.model.learned_base_mult`` (0.0 when absent: no learned base)."""
  mult = float(config.model.get('learned_base_mult', 0.0))
  if not mult >= 0.0:
    raise ValueError(f'config.model.learned_base_mult must be >= 0, got {mult}')
  return mult


def learned_base_res(config: Any) -> int:
  """R, the side of the learned base's grid: ``config.model.learned_base_res``,
  0 (or absent) = the shape image's N. A power of two in [2, N]; a coarse
  grid (R < N, bilinearly upsampled) can only learn a smooth base."""
  n = int(config.resolution)
  r = int(config.model.get('learned_base_res', 0)) or n
  layers.check_power_of_two(r, 'config.model.learned_base_res (0 = resolution)', minimum=2)
  if r > n:
    raise ValueError(f'config.model.learned_base_res must be at most the resolution {n}, got {r}')
  return r


def num_ws(config: Any) -> int:
  """Style vectors per generator (both run at 2N)."""
  return num_ws_for(2 * int(config.resolution))


def init_generators(rng: jax.Array, config: Any) -> dict:
  """``{'object': params_o, 'background': params_b}`` at full resolution.

  Uses ``layers.fast_init`` (one random draw per network; the same
  distributions as ``StyleGenerator.init``), then `scale_shape_init` with
  ``config.model.shape_init_scale``.
  """
  out = {}
  for i, which in enumerate(GENERATORS):
    g = make_generator(config, which)
    z = jnp.zeros((1, int(config.model.z_dim)), jnp.float32)
    out[which] = layers.fast_init(g, jax.random.fold_in(rng, i), z)
  return scale_shape_init(out, config.model.get('shape_init_scale', 1.0),
                          3 * int(config.model.shape_pyramid_levels))


def is_shape_output(path) -> bool:
  """True for G_o's toRGB leaves ``object/.../bN_torgb/conv/kernel`` and
  ``.../bN_torgb/bias`` of a ``{'object': ..., 'background': ...}`` pytree
  (their last axis is the output channel; the first 3K channels are shape)."""
  keys = [str(getattr(k, 'key', k)) for k in path]
  if keys[:1] != ['object']:
    return False
  if keys[-1:] == ['shape_base']:   # model.learned_base_mult: all 3K channels are shape
    return True
  if keys[-2:] == ['conv', 'kernel']:
    layer = keys[-3:-2]
  elif keys[-1:] == ['bias']:
    layer = keys[-2:-1]
  else:
    return False
  return bool(layer) and layer[0].endswith('_torgb')


def is_shape_bias(path) -> bool:
  """True for the bias leaves among `is_shape_output`'s (G_o's toRGB
  biases; their first 3K entries move the whole shape image at once)."""
  return is_shape_output(path) and str(getattr(path[-1], 'key', path[-1])) == 'bias'


def scale_shape_outputs(tree: dict, mult, shape_channels: int,
                        bias_mult=1.0) -> dict:
  """Multiplies the first ``shape_channels`` entries of the last axis of
  every `is_shape_output` leaf of ``tree`` (parameters or their updates)
  by ``mult`` (a float or a traced scalar), those of the toRGB biases
  (`is_shape_bias`) by ``mult * bias_mult``
  (`config.train.shape_bias_lr_mult`); other leaves are unchanged."""
  def one(path, leaf):
    if not is_shape_output(path):
      return leaf
    m_leaf = mult * bias_mult if is_shape_bias(path) else mult
    m = jnp.where(jnp.arange(leaf.shape[-1]) < shape_channels, m_leaf, 1.0)
    return leaf * m.astype(leaf.dtype)

  return jax.tree_util.tree_map_with_path(one, tree)


def scale_shape_init(params: dict, scale: float, shape_channels: int) -> dict:
  """Multiplies the first ``shape_channels`` outputs of G_o's toRGB kernels
  by ``scale`` (``config.model.shape_init_scale``; their biases start at 0
  and stay 0).

  The shape channels are linear in those kernels, so the untrained offsets
  from the base surface shrink by ``scale`` (0 = the generator starts
  exactly at the base surface); Adam's steps, whose size does not depend on
  the weights' scale, are unchanged.
  """
  scale = float(scale)
  if not scale >= 0.0:
    raise ValueError(f'config.model.shape_init_scale must be >= 0, got {scale}')
  if scale == 1.0:
    return params
  return scale_shape_outputs(params, scale, shape_channels)


def init_w_avg(config: Any) -> dict:
  """Zero running averages ``{'object': [w_dim], 'background': [w_dim]}``."""
  return {k: jnp.zeros((int(config.model.w_dim),), jnp.float32) for k in GENERATORS}


# ----------------------------------------------------------------------------
# Styles: mapping, truncation, mixing (pure functions).


def truncate(ws: jax.Array, w_avg: jax.Array, psi) -> jax.Array:
  """Truncation trick: ``w_avg + psi * (ws - w_avg)``; ``ws [B, L, D]``, ``w_avg [D]``."""
  return w_avg + (ws - w_avg) * psi


def mix_styles(ws: jax.Array, ws2: jax.Array, rng: jax.Array, prob) -> jax.Array:
  """Style mixing regularisation: per sample, with probability ``prob``, layers
  ``>= cutoff`` take their style from ``ws2``; ``cutoff ~ U{1, .., L-1}``.

  ``ws, ws2 [B, L, D] -> [B, L, D]``.
  """
  chex.assert_equal_shape([ws, ws2])
  b, n_layers = ws.shape[:2]
  k_cut, k_do = jax.random.split(rng)
  cutoff = jax.random.randint(k_cut, (b,), 1, max(n_layers, 2))
  do_mix = jax.random.uniform(k_do, (b,)) < prob
  cutoff = jnp.where(do_mix, cutoff, n_layers)
  take2 = jnp.arange(n_layers)[None, :] >= cutoff[:, None]        # [B, L]
  return jnp.where(take2[..., None], ws2, ws)


def map_latents(params: dict, z_o: jax.Array, z_b: jax.Array, rng: jax.Array,
                config: Any, *, truncation_psi=1.0, w_avg: Optional[dict] = None,
                mixing: bool = False) -> tuple[dict, dict]:
  """Latents -> per-layer styles for both generators.

  Returns ``(ws, w)``: ``ws[name] [B, num_ws, w_dim]`` after mixing and
  truncation, and ``w[name] [B, w_dim]`` the raw mapping outputs of the
  given latents (for the running ``w_avg``). ``w_avg`` is
  ``{'object': [w_dim], 'background': [w_dim]}``, required when
  ``truncation_psi != 1``. Mixing latents are drawn from ``rng``.
  """
  zs = {'object': z_o, 'background': z_b}
  nws = num_ws(config)
  ws, w_raw = {}, {}
  for i, which in enumerate(GENERATORS):
    z = zs[which]
    chex.assert_shape(z, (None, int(config.model.z_dim)))
    g = make_generator(config, which)
    p = {'params': params[which]}
    w = g.apply(p, z, method=StyleGenerator.map)
    w_raw[which] = w
    wl = jnp.broadcast_to(w[:, None], (w.shape[0], nws, w.shape[-1]))
    if mixing:
      k = jax.random.fold_in(rng, i)
      z2 = jax.random.normal(jax.random.fold_in(k, 0), z.shape, z.dtype)
      w2 = g.apply(p, z2, method=StyleGenerator.map)
      w2l = jnp.broadcast_to(w2[:, None], wl.shape)
      wl = mix_styles(wl, w2l, jax.random.fold_in(k, 1), config.model.style_mixing_prob)
    if not (isinstance(truncation_psi, (int, float)) and truncation_psi == 1.0):
      if w_avg is None:
        raise ValueError('truncation_psi != 1 needs w_avg={"object": ..., "background": ...}')
      chex.assert_shape(w_avg[which], (int(config.model.w_dim),))
      wl = truncate(wl, w_avg[which], truncation_psi)
    ws[which] = wl
  return ws, w_raw


def synthesize(params: dict, ws: dict, rng: Optional[jax.Array], config: Any, *,
               stage_res: Optional[int] = None, fade_alpha=1.0) -> dict:
  """Styles -> raw generator images at ``2 * stage_res``.

  Returns ``{'object': [B, 2n, 2n, 3K+3], 'background': [B, 2n, 2n, 3]}``,
  plus ``'shape_base': [n, n, 3K]`` with ``config.model.learned_base_mult
  > 0`` (G_o's learned base, resized to the stage's n by `resize_base`).
  ``rng`` drives the per-layer noise inputs (``None``: no noise).
  """
  n = _stage_res(config, stage_res)
  out = {}
  for i, which in enumerate(GENERATORS):
    g = make_generator(config, which)
    key = None if rng is None else jax.random.fold_in(rng, i)
    out[which] = g.apply({'params': params[which]}, ws[which], key, 2 * n, fade_alpha,
                         method=StyleGenerator.synthesize)
    if g.base_channels:   # G_o with model.learned_base_mult > 0
      base = g.apply({'params': params[which]}, method=StyleGenerator.learned_base)
      out['shape_base'] = resize_base(base, n)
  return out


def resize_base(base: jax.Array, n: int) -> jax.Array:
  """The learned base ``[R, R, C] -> [n, n, C]``: R x R block means when R
  > n (a progressive stage below the base's resolution), bilinear
  interpolation (``jax.image.resize``, 'linear') when R < n (a coarse base,
  ``model.learned_base_res``), unchanged when R = n. R and n are powers of
  two."""
  r = base.shape[0]
  if r > n:
    f = r // n
    return base.reshape(n, f, n, f, base.shape[-1]).mean((1, 3))
  if r < n:
    return jax.image.resize(base, (n, n, base.shape[-1]), 'linear')
  return base


def _stage_res(config: Any, stage_res: Optional[int]) -> int:
  n = int(config.resolution)
  if stage_res is None:
    return n
  stage_res = int(stage_res)
  layers.check_power_of_two(stage_res, 'stage_res')
  if not config.model.progressive and stage_res != n:
    raise ValueError(f'stage_res={stage_res} != resolution {n} needs config.model.progressive=True')
  if stage_res > n or stage_res < 4:
    raise ValueError(f'stage_res must be in [4, {n}], got {stage_res}')
  return stage_res


# ----------------------------------------------------------------------------
# Scene and rendering.


def build_scene(raw: dict, rng: jax.Array, config: Any) -> dict:
  """Raw generator outputs -> scene dict (no rendering).

  Keys: shape_image ``[B, n, n, 3]``, vertices ``[B, n*n, 3]``, faces
  ``[F, 3]`` int32, uv ``[n*n, 2]``, texture ``[B, 2n, 2n, 3]``, background
  ``[B, n, n, 3]`` (the random crop of G_b's ``[B, 2n, 2n, 3]``).
  """
  from gan3d.render import topology  # pylint: disable=g-import-not-at-top
  levels = int(config.model.shape_pyramid_levels)
  raw_shape, texture = representation.split_object_output(raw['object'], levels)
  if 'shape_base' in raw:   # model.learned_base_mult > 0
    chex.assert_shape(raw['shape_base'], raw_shape.shape[1:])
    raw_shape = raw_shape + raw['shape_base'][None]
  # model.texture_offset: where the untrained albedo sits (0 in the paper).
  texture = texture + float(config.model.get('texture_offset', 0.0))
  n = raw_shape.shape[1]
  s = representation.build_shape_image(raw_shape, config.model)
  vertices = jax.vmap(topology.shape_image_to_vertices)(s)
  background = representation.crop_background(raw['background'], n, rng)
  return dict(shape_image=s, vertices=vertices,
              faces=jnp.asarray(topology.grid_faces(n), jnp.int32),
              uv=jnp.asarray(topology.grid_uv(n), jnp.float32),
              texture=texture, background=background)


def render_scene(scene: dict, viewpoint: jax.Array, config: Any,
                 light: Optional[jax.Array] = None, *,
                 geometry_maps: bool = True) -> tuple[jax.Array, dict]:
  """Render every scene of the batch: ``viewpoint [B, 2]`` -> images ``[B, n, n, 3]``.

  ``light [B, 4]`` (`lighting.sample_lights`) shades the texture (Lambert,
  see `gan3d.models.lighting`); None renders the albedo (the paper's
  generator). Adds alpha, mask, depth ``[B, n, n]``, normals ``[B, n, n, 3]``
  and the renderer's window overflow count ``[B]`` and its dropped
  soft-layer pairs ``soft_overflow [B]`` to the scene.

  ``config.render.supersample`` S > 1 (not the paper; default 1): the image
  and alpha are rendered at ``n S x n S`` (the other ``config.render``
  settings, window and soft width included, in pixels of that render; the
  background repeated S x S) and averaged over S x S blocks, as the
  synthetic data set's photos are (``data.synthetic.supersample``). The
  mask, depth and normals are those of a second render at ``n x n`` (the
  pixel centres the ground truth uses), made only with ``geometry_maps``;
  without it (the training step, which needs only the images) the scene
  gets no mask, depth or normals when S > 1.
  """
  from gan3d import render  # pylint: disable=g-import-not-at-top
  b, n = scene['shape_image'].shape[:2]
  chex.assert_shape(viewpoint, (b, 2))
  ss = int(_render_kwargs(config).get('supersample', 1))
  settings = render_settings(config, n * ss)
  texture = scene['texture']
  if light is not None:
    texture = lighting.shade_textures(texture, scene['vertices'], scene['faces'],
                                      viewpoint, light, settings.camera_distance,
                                      leak=float(config.light.get('leak', 0.0)),
                                      bounded_albedo=bool(config.light.get('bounded_albedo', False)))
  background = scene['background']
  if ss > 1:
    background = jnp.repeat(jnp.repeat(background, ss, axis=1), ss, axis=2)

  def one(settings, vertices, texture, background, vp):
    out = render.render_mesh(vertices, scene['faces'], settings=settings,
                             uv=scene['uv'], texture=texture, background=background,
                             viewpoint=vp)
    return (out.image, out.alpha, out.mask, out.depth, out.normals, out.overflow,
            out.soft_overflow)

  images, alpha, mask, depth, normals, overflow, soft_overflow = jax.vmap(
      functools.partial(one, settings))(scene['vertices'], texture, background,
                                        viewpoint)
  scene = dict(scene, overflow=overflow, soft_overflow=soft_overflow)
  if ss > 1:
    down = jax.vmap(functools.partial(render.box_downsample, f=ss))
    images, alpha = down(images), down(alpha)
    if geometry_maps:
      low = render_settings(config, n)
      _, _, mask, depth, normals, _, _ = jax.vmap(functools.partial(one, low))(
          scene['vertices'], texture, scene['background'], viewpoint)
  if ss == 1 or geometry_maps:
    scene.update(mask=mask, depth=depth, normals=normals)
  scene['alpha'] = alpha
  chex.assert_shape(images, (b, n, n, 3))
  return images, scene


def render_settings(config: Any, size: int):
  """``config.render`` as the `gan3d.render.RenderSettings` of a
  ``size x size`` render (``supersample`` is `render_scene`'s, not a
  renderer setting, and is left out)."""
  from gan3d import render  # pylint: disable=g-import-not-at-top
  kwargs = _render_kwargs(config)
  kwargs.pop('supersample', None)
  return render.RenderSettings(height=size, width=size, **kwargs)


def _render_kwargs(config: Any) -> dict:
  r = config.get('render', None)
  if r is None:
    return {}
  return dict(r.to_dict() if hasattr(r, 'to_dict') else r)


def generate(params: dict, z_o: jax.Array, z_b: jax.Array, viewpoint: jax.Array,
             rng: jax.Array, config: Any, *, truncation_psi=1.0,
             w_avg: Optional[dict] = None, mixing: bool = False,
             stage_res: Optional[int] = None, fade_alpha=1.0,
             noise: bool = True, light: Optional[jax.Array] = None,
             geometry_maps: bool = True) -> tuple[jax.Array, dict]:
  """Latents and viewpoints -> rendered images and the scene (sections 6-7).

  Args:
    params: ``init_generators`` output.
    z_o, z_b: ``[B, z_dim]`` independent latents of G_o and G_b.
    viewpoint: ``[B, 2]`` (yaw, pitch) radians.
    rng: one key; split here into mixing, noise and background-crop keys.
    config: reads ``resolution``, ``model.*``, ``render.*``.
    truncation_psi, w_avg: truncation trick (``w_avg`` needed when psi != 1).
    mixing: style mixing regularisation with ``model.style_mixing_prob``.
    stage_res, fade_alpha: progressive growing (rendered resolution of the
      stage, static; fade-in of its newest block). Default: full resolution.
    noise: per-layer noise inputs on (training) or off (deterministic).
    light: ``[B, 4]`` lights (`lighting.sample_lights`) or None (albedo).
    geometry_maps: with ``config.render.supersample`` > 1, also render the
      mask, depth and normal maps (`render_scene`); always there otherwise.

  Returns:
    ``images [B, n, n, 3]`` and the scene dict of docs/interfaces.md, plus
    ``ws`` (styles used, ``{name: [B, num_ws, w_dim]}``) and ``w`` (raw
    mapping outputs ``{name: [B, w_dim]}`` for the running ``w_avg``).
  """
  chex.assert_rank([z_o, z_b, viewpoint], 2)
  chex.assert_equal(z_o.shape[0], z_b.shape[0])
  k_map, k_noise, k_crop = (jax.random.fold_in(rng, i) for i in range(3))
  ws, w = map_latents(params, z_o, z_b, k_map, config, truncation_psi=truncation_psi,
                      w_avg=w_avg, mixing=mixing)
  images, scene = generate_from_ws(params, ws, viewpoint, k_noise, k_crop, config,
                                   stage_res=stage_res, fade_alpha=fade_alpha, noise=noise,
                                   light=light, geometry_maps=geometry_maps)
  scene['w'] = w
  return images, scene


def generate_from_ws(params: dict, ws: dict, viewpoint: jax.Array, noise_rng: jax.Array,
                     crop_rng: jax.Array, config: Any, *, stage_res: Optional[int] = None,
                     fade_alpha=1.0, noise: bool = True,
                     light: Optional[jax.Array] = None,
                     geometry_maps: bool = True) -> tuple[jax.Array, dict]:
  """The part of ``generate`` after the mapping network: styles -> images, scene.

  Exposed for the path-length regulariser (differentiate images w.r.t. ``ws``).
  """
  raw = synthesize(params, ws, noise_rng if noise else None, config,
                   stage_res=stage_res, fade_alpha=fade_alpha)
  scene = build_scene(raw, crop_rng, config)
  images, scene = render_scene(scene, viewpoint, config, light,
                               geometry_maps=geometry_maps)
  scene['ws'] = ws
  return images, scene
