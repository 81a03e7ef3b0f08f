"""StyleGAN2 synthesis network with skip-style toRGB outputs (paper section 7).

``ws [B, num_ws, w_dim] -> image [B, R, R, out_channels]`` where
``num_ws = 2 * log2(R) - 2``. Structure (StyleGAN2 config E/F generator, 'skip'):

* learned constant input ``[4, 4, C(4)]``;
* block 4:  style layer (ws[0]), toRGB (ws[1]);
* block r >= 8: style layer with 2x up (ws[i]), style layer (ws[i+1]),
  toRGB (ws[i+2]) with ``i = 2 log2(r) - 5``; the running RGB image is
  upsampled (FIR) and the block's toRGB added to it. ``skip_pad='zero'``
  (StyleGAN2) pads that upsampling with zeros, so a constant toRGB output
  (a bias) reaches the border pixels attenuated; ``'edge'`` repeats the edge
  pixels, so it reaches every pixel whole (``model.skip_pad``).

Progressive growing (ProGAN-style fade-in, written for the skip architecture):
``stage_res < R`` stops after the block of that resolution and scales the last
block's toRGB contribution by ``fade_alpha``: ``img = up(img_prev) + alpha *
toRGB(x)``. At ``alpha = 0`` the output is the upsampled previous stage, at
``alpha = 1`` the full network truncated at ``stage_res``. ``stage_res`` is
static (a Python int; each stage compiles separately), ``fade_alpha`` may be
traced. Parameters of all resolutions always exist (init at full resolution).

Band-limited channels: with ``coarse_channels = c > 0`` and
``coarse_max_res = r > 0``, the toRGB outputs of blocks above resolution r
do not contribute to the first c output channels, so those channels are the
FIR-upsampled skip sum of blocks 4 .. r only (smooth at the scale of an
r x r image). G_o uses this for its shape channels (``model.shape_max_res``).

Separate coarse tower: with ``coarse_separate=True`` as well, those first c
channels come from a tower of their own (``shape_const``,
``shape_b4_conv1``, ``shape_bR_conv0/1``, ``shape_bR_torgb`` for R <= r; c
toRGB outputs; the same styles ``ws``), and the main tower's toRGB outputs
no longer reach them. The two parts then share no weights: training the
texture cannot move the coarse channels (``model.shape_branch='separate'``).
The main tower's toRGB layers keep their outputs for those c channels
(multiplied by 0, so they get no gradient): every toRGB then has the same
channel layout, which ``model.shape_init_scale`` and ``train.shape_lr_mult``
index by position. Both towers are built by one helper, ``_tower``.
"""

from __future__ import annotations

from typing import Optional

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp

from gan3d.models import layers


def num_ws_for(resolution: int) -> int:
  """Number of style vectors the synthesis network of ``resolution`` consumes."""
  return 2 * layers.check_power_of_two(resolution, 'synthesis resolution') - 2


class SynthesisNetwork(nn.Module):
  """``ws [B, num_ws, w_dim] -> [B, stage_res, stage_res, out_channels]``."""
  resolution: int
  out_channels: int
  w_dim: int
  channel_base: int
  channel_max: int
  conv_impl: str = 'native'   # layers.resolve_conv_impl
  coarse_channels: int = 0     # first channels limited to blocks <= coarse_max_res
  coarse_max_res: int = 0      # 0 = off
  coarse_separate: bool = False  # coarse channels from a tower of their own
  skip_pad: str = 'zero'       # padding of the skip path's upsampling (layers.upsample2d)

  @property
  def num_ws(self) -> int:
    return num_ws_for(self.resolution)

  def _ch(self, res: int) -> int:
    return layers.channels_at(res, self.channel_base, self.channel_max)

  @nn.compact
  def __call__(self, ws: jax.Array, noise_key: Optional[jax.Array] = None,
               stage_res: Optional[int] = None,
               fade_alpha: jax.Array | float = 1.0) -> jax.Array:
    chex.assert_rank(ws, 3)
    chex.assert_shape(ws, (None, self.num_ws, self.w_dim))
    stage_res = self.resolution if stage_res is None else int(stage_res)
    layers.check_power_of_two(stage_res, 'stage_res')
    if stage_res > self.resolution:
      raise ValueError(f'stage_res {stage_res} exceeds the network resolution '
                       f'{self.resolution}')
    b = ws.shape[0]
    # Initialisation builds every block so that all parameters exist.
    top = self.resolution if self.is_initializing() else stage_res
    c, r = int(self.coarse_channels), int(self.coarse_max_res)
    banded = bool(c and r)
    separate = bool(self.coarse_separate and banded)
    keep = (jnp.arange(self.out_channels) >= c).astype(ws.dtype)
    coarse = None
    if separate:   # built first: the order of self.param calls fixes their init keys
      coarse = self._tower(ws, noise_key, prefix='shape_', out_channels=c,
                           top=min(top, r), stage_res=stage_res, fade_alpha=fade_alpha,
                           key_offset=1000, mask=None, mask_above=0)
    # Shared tower: toRGB of blocks above r (all blocks when separate) leave
    # the first c channels alone.
    img = self._tower(ws, noise_key, prefix='', out_channels=self.out_channels, top=top,
                      stage_res=stage_res, fade_alpha=fade_alpha, key_offset=0,
                      mask=keep if banded else None, mask_above=0 if separate else r)
    if separate:
      while coarse.shape[1] < img.shape[1]:   # as the shared tower's coarse channels
        coarse = layers.upsample2d(coarse, self.skip_pad)
      pad = jnp.zeros(coarse.shape[:3] + (self.out_channels - c,), coarse.dtype)
      img = img + jnp.concatenate([coarse, pad], axis=-1)
    chex.assert_shape(img, (b, top, top, self.out_channels))
    return img

  def _tower(self, ws, noise_key, *, prefix: str, out_channels: int, top: int,
             stage_res: int, fade_alpha, key_offset: int, mask: Optional[jax.Array],
             mask_above: int) -> jax.Array:
    """One skip-architecture tower: ``[B, top, top, out_channels]``.

    Parameters ``{prefix}const``, ``{prefix}b4_conv1``, ``{prefix}b4_torgb``
    and ``{prefix}bR_conv0/conv1/torgb`` for 8 <= R <= top; the style of
    layer i is ``ws[:, i]``, its noise key ``fold_in(noise_key, key_offset
    + i)``. The toRGB output of every block above ``mask_above`` (all of
    them at 0) is multiplied by ``mask [out_channels]`` when given; the
    block at ``stage_res`` is faded in by ``fade_alpha``.
    """
    b = ws.shape[0]

    def key_for(layer_idx: int) -> Optional[jax.Array]:
      if noise_key is None:
        return None
      return jax.random.fold_in(noise_key, key_offset + layer_idx)

    def masked(rgb, res):
      return rgb if mask is None or res <= mask_above else rgb * mask

    ch4 = self._ch(4)
    const = layers.param(self, f'{prefix}const', 'normal', 1.0, (4, 4, ch4))
    x = jnp.broadcast_to(const[None].astype(ws.dtype), (b, 4, 4, ch4))
    x = layers.StyleLayer(ch4, conv_impl=self.conv_impl, name=f'{prefix}b4_conv1')(
        x, ws[:, 0], key_for(0))
    img = layers.ToRGB(out_channels, conv_impl=self.conv_impl, name=f'{prefix}b4_torgb')(
        x, ws[:, 1])
    img = masked(img, 4)
    for res in layers.resolutions(8, top):
      i = 2 * layers.check_power_of_two(res, 'res') - 5
      x = layers.StyleLayer(self._ch(res), up=True, conv_impl=self.conv_impl,
                            name=f'{prefix}b{res}_conv0')(x, ws[:, i], key_for(i))
      x = layers.StyleLayer(self._ch(res), conv_impl=self.conv_impl,
                            name=f'{prefix}b{res}_conv1')(x, ws[:, i + 1], key_for(i + 1))
      rgb = layers.ToRGB(out_channels, conv_impl=self.conv_impl,
                         name=f'{prefix}b{res}_torgb')(x, ws[:, i + 2])
      rgb = masked(rgb, res)
      if res == stage_res:  # fade-in of the newest block (alpha=1: no-op)
        rgb = rgb * jnp.asarray(fade_alpha, rgb.dtype)
      img = layers.upsample2d(img, self.skip_pad) + rgb
    return img
