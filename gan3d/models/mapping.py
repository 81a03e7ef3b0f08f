"""StyleGAN mapping network (paper section 7): z [B, z_dim] -> w [B, w_dim].

An MLP of ``num_layers`` equalised-lr dense layers with leaky ReLU, applied to
the pixel-normalised latent. Its learning rate is scaled by ``lr_mult`` (0.01
in StyleGAN), implemented through the equalised-lr parametrisation.
"""

from __future__ import annotations

import chex
import flax.linen as nn
import jax

from gan3d.models import layers


class MappingNetwork(nn.Module):
  """``z [B, z_dim] -> w [B, w_dim]``."""
  z_dim: int
  w_dim: int
  num_layers: int = 8
  lr_mult: float = 0.01
  normalize_z: bool = True

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    chex.assert_rank(z, 2)
    if z.shape[-1] != self.z_dim:
      raise ValueError(f'latent z has {z.shape[-1]} channels, expected z_dim={self.z_dim}')
    x = layers.pixel_norm(z) if self.normalize_z else z
    for i in range(self.num_layers):
      x = layers.EqualDense(self.w_dim, lr_mult=self.lr_mult, activation='lrelu',
                            name=f'fc{i}')(x)
    chex.assert_shape(x, (z.shape[0], self.w_dim))
    return x
