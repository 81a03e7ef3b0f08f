"""StyleGAN2 residual discriminator with minibatch standard deviation.

``images [B, n, n, 3] -> logits [B]``. Structure (StyleGAN2 'resnet' D):

* fromRGB: 1x1 conv + lrelu at the input resolution;
* block r (r = n .. 8): conv3x3 + lrelu, conv3x3 down + lrelu; skip: 1x1 down
  conv without bias; output ``(skip + main) / sqrt(2)``;
* epilogue at 4x4: minibatch stddev, conv3x3 + lrelu, flatten, dense + lrelu,
  dense -> 1.

Progressive growing: every resolution has its own fromRGB. At ``stage_res``
with ``fade_alpha < 1`` the input enters through ``fromRGB(img)`` and the
top block, and is blended with ``fromRGB(downsample(img))`` of the next lower
resolution: ``x = lerp(fromRGB_{n/2}(down(img)), block_n(fromRGB_n(img)), alpha)``.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp

from gan3d.models import layers


def minibatch_stddev(x: jax.Array, group_size: int, num_channels: int = 1) -> jax.Array:
  """Append the minibatch standard deviation features.

  ``x [B, H, W, C] -> [B, H, W, C + num_channels]``. Samples are split into
  groups of ``G = min(group_size, B)``; within each group the stddev of every
  feature over the group, averaged over features (split into
  ``num_channels`` sets) and pixels, is appended as a constant map.
  """
  chex.assert_rank(x, 4)
  b, h, w, c = x.shape
  g = min(int(group_size), b)
  if b % g:
    raise ValueError(f'minibatch-stddev: batch {b} is not divisible by the group '
                     f'size {g} (config.model.mbstd_group_size)')
  if c % num_channels:
    raise ValueError(f'minibatch-stddev: {c} channels not divisible by {num_channels}')
  y = x.reshape(g, b // g, h, w, num_channels, c // num_channels)
  y = y - jnp.mean(y, axis=0)
  y = jnp.sqrt(jnp.mean(jnp.square(y), axis=0) + 1e-8)      # [B/G, H, W, F, c/F]
  y = jnp.mean(y, axis=(1, 2, 4))                            # [B/G, F]
  y = jnp.tile(y, (g, 1))                                    # [B, F] (sample i -> group i % (B/G))
  y = jnp.broadcast_to(y[:, None, None, :], (b, h, w, num_channels))
  return jnp.concatenate([x, y], axis=-1)


class Discriminator(nn.Module):
  """``images [B, n, n, C] -> logits [B]``."""
  resolution: int
  channel_base: int
  channel_max: int
  mbstd_group_size: int = 4
  mbstd_num_channels: int = 1
  progressive: bool = False
  conv_impl: str = 'native'   # layers.resolve_conv_impl

  def _ch(self, res: int) -> int:
    return layers.channels_at(res, self.channel_base, self.channel_max)

  @nn.compact
  def __call__(self, images: jax.Array, stage_res: Optional[int] = None,
               fade_alpha=1.0) -> jax.Array:
    chex.assert_rank(images, 4)
    b, h, w, _ = images.shape
    if h != w:
      raise ValueError(f'discriminator expects square images, got {h}x{w}')
    n = self.resolution if stage_res is None else int(stage_res)
    if h != n:
      raise ValueError(f'discriminator got {h}x{w} images, expected {n}x{n}')
    if n != self.resolution and not self.progressive:
      raise ValueError('stage_res != resolution needs progressive=True')
    layers.check_power_of_two(n, 'discriminator input resolution')

    from_rgb_modules = {}

    def from_rgb(res):  # one module per resolution, created on first use
      if res not in from_rgb_modules:
        from_rgb_modules[res] = layers.EqualConv2d(
            self._ch(res), kernel_size=1, activation='lrelu', conv_impl=self.conv_impl,
            name=f'b{res}_fromrgb')
      return from_rgb_modules[res]

    if self.progressive and self.is_initializing():
      # Create the fromRGB of every resolution (only some are used per stage).
      for res in layers.resolutions(4, self.resolution):
        if res != n:
          from_rgb(res)(jnp.zeros((1, res, res, images.shape[-1]), images.dtype))

    x = from_rgb(n)(images)
    for res in reversed(layers.resolutions(8, n)):
      x = self._block(x, res)
      if res == n and self.progressive:
        # Fade-in of the newest block (alpha = 1: no-op).
        low = from_rgb(n // 2)(layers.downsample2d(images))
        x = low + (x - low) * jnp.asarray(fade_alpha, x.dtype)
    # Epilogue at 4x4.
    chex.assert_shape(x, (b, 4, 4, self._ch(4)))
    if self.mbstd_group_size > 0:  # 0 = layer off
      x = minibatch_stddev(x, self.mbstd_group_size, self.mbstd_num_channels)
    x = layers.EqualConv2d(self._ch(4), 3, activation='lrelu', conv_impl=self.conv_impl,
                           name='b4_conv')(x)
    x = x.reshape(b, -1)
    x = layers.EqualDense(self._ch(4), activation='lrelu', name='b4_fc')(x)
    logits = layers.EqualDense(1, name='b4_out')(x)[:, 0]
    chex.assert_shape(logits, (b,))
    return logits

  def _block(self, x: jax.Array, res: int) -> jax.Array:
    c_out = self._ch(res // 2)
    skip = layers.EqualConv2d(c_out, kernel_size=1, down=True, use_bias=False,
                              conv_impl=self.conv_impl, name=f'b{res}_skip')(x)
    y = layers.EqualConv2d(self._ch(res), 3, activation='lrelu',
                           conv_impl=self.conv_impl, name=f'b{res}_conv0')(x)
    y = layers.EqualConv2d(c_out, 3, down=True, activation='lrelu',
                           conv_impl=self.conv_impl, name=f'b{res}_conv1')(y)
    return (skip + y) * (1.0 / math.sqrt(2.0))


def make_discriminator(config: Any) -> Discriminator:
  m = config.model
  return Discriminator(resolution=int(config.resolution),
                       channel_base=int(m.d_channel_base), channel_max=int(m.d_channel_max),
                       mbstd_group_size=int(m.mbstd_group_size),
                       mbstd_num_channels=int(m.mbstd_num_channels),
                       progressive=bool(m.progressive),
                       conv_impl=layers.resolve_conv_impl(str(m.get('conv_impl', 'auto'))))


def init_discriminator(rng: jax.Array, config: Any) -> dict:
  """Discriminator params at full resolution (all fromRGBs when progressive)."""
  n = int(config.resolution)
  layers.check_power_of_two(n, 'config.resolution', minimum=8)
  d = make_discriminator(config)
  b = max(1, int(config.model.mbstd_group_size))
  return layers.fast_init(d, rng, jnp.zeros((b, n, n, 3), jnp.float32))


def discriminate(d_params: dict, images: jax.Array, config: Any, *,
                 stage_res: Optional[int] = None, fade_alpha=1.0) -> jax.Array:
  """``images [B, n, n, 3] -> logits [B]`` (``n = stage_res`` or resolution)."""
  return make_discriminator(config).apply({'params': d_params}, images, stage_res, fade_alpha)
