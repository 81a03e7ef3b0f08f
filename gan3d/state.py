"""The complete training state of the 3D GAN as one pytree.

`TrainState` holds everything a resumed run needs to continue bit-for-bit:
both networks, the EMA copy of the generator, both optimiser states, the
running average of the mapping outputs (w_avg, for truncation), the running
path-length mean, the step counter and the base RNG key. Per-step keys are
derived as ``fold_in(rng, step)`` (see `gan3d.train_step`), so the base key
itself never changes.
"""

from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import optax

from gan3d import models

PyTree = Any


@flax.struct.dataclass
class TrainState:
  """All arrays of a training run (a pytree; jit/donate/checkpoint friendly).

  Attributes:
    step: int32 [] number of completed updates (one update = D step + G step).
    rng: uint32 [2] base PRNG key of the run (raw key data, checkpointable).
    g_params: generator parameters ``{'object': ..., 'background': ...}``.
    g_ema_params: exponential moving average of `g_params` (used for samples
      and evaluation).
    d_params: discriminator parameters.
    g_opt_state / d_opt_state: optax states of the two Adam optimisers.
    w_avg: running mean of the mapping network outputs, the same pytree the
      generator's ``w_avg`` argument takes (truncation trick).
    pl_mean: float32 [] running mean of the path lengths (path-length reg).
  """
  step: jax.Array
  rng: jax.Array
  g_params: PyTree
  g_ema_params: PyTree
  d_params: PyTree
  g_opt_state: PyTree
  d_opt_state: PyTree
  w_avg: PyTree
  pl_mean: jax.Array


def make_optimizers(config: ml_collections.ConfigDict
                    ) -> tuple[optax.GradientTransformation,
                               optax.GradientTransformation]:
  """Adam for G and D with StyleGAN's betas (config.train.adam_*).

  The learning-rate multiplier of the mapping network (0.01) lives in the
  equalised-lr parametrisation of the layers, not here.

  With ``config.train.shape_lr_mult != 1``, G's Adam updates of the entries
  of G_o's toRGB kernels and biases that produce the shape channels (the
  first ``3K`` outputs) are multiplied by it (`scale_shape_updates`): a
  learning rate of its own for the shape, leaving the texture's alone.
  With ``config.train.shape_freeze_steps = S > 0`` those updates are 0 for
  G's first S steps (the shape stays at its start while the texture
  learns).
  With ``config.train.shape_bias_lr_mult = b != 1`` the biases among those
  weights (3K numbers per toRGB layer, `models.is_shape_bias`, which move
  the whole shape image at once) get ``b`` times the shape's learning rate
  (0 = they stay 0).
  """
  t = config.train

  def adam(lr):
    return optax.adam(lr, b1=t.adam_b1, b2=t.adam_b2, eps=t.adam_eps)

  g_tx = adam(t.g_lr)
  mult = float(t.get('shape_lr_mult', 1.0))
  freeze = int(t.get('shape_freeze_steps', 0))
  bias_mult = float(t.get('shape_bias_lr_mult', 1.0))
  if mult != 1.0 or freeze or bias_mult != 1.0:
    g_tx = optax.chain(g_tx, scale_shape_updates(
        mult, 3 * int(config.model.shape_pyramid_levels), freeze, bias_mult))
  return g_tx, adam(t.d_lr)


def scale_shape_updates(mult: float, shape_channels: int,
                        freeze_steps: int = 0,
                        bias_mult: float = 1.0) -> optax.GradientTransformation:
  """Multiplies the updates of the first ``shape_channels`` output channels
  of G_o's toRGB layers by ``mult`` (other leaves and channels unchanged),
  and by 0 during the first ``freeze_steps`` updates; those of the toRGB
  biases by ``mult * bias_mult``.

  After Adam (whose step size ignores the gradient's scale), this is the
  learning rate ``mult * g_lr`` for those weights. With ``freeze_steps = 0``
  it is stateless; otherwise it counts its updates (the shape stays at its
  initial value while the texture and background train; Adam's moments of
  the frozen weights keep accumulating, so the first unfrozen steps are
  ordinary Adam steps).
  """
  if not mult > 0:
    raise ValueError(f'config.train.shape_lr_mult must be > 0, got {mult}')
  freeze_steps = int(freeze_steps)
  if freeze_steps < 0:
    raise ValueError(f'config.train.shape_freeze_steps must be >= 0, got {freeze_steps}')
  if not float(bias_mult) >= 0:
    raise ValueError(f'config.train.shape_bias_lr_mult must be >= 0, got {bias_mult}')

  if freeze_steps == 0:
    def update(updates, state, params=None):
      del params
      return models.scale_shape_outputs(updates, mult, shape_channels, bias_mult), state
    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)

  def init_counted(params):
    del params
    return optax.ScaleByScheduleState(count=jnp.zeros((), jnp.int32))

  def update_counted(updates, state, params=None):
    del params
    m_shape = jnp.where(state.count < freeze_steps, 0.0, mult)
    updates = models.scale_shape_outputs(updates, m_shape, shape_channels, bias_mult)
    return updates, optax.ScaleByScheduleState(count=state.count + 1)

  return optax.GradientTransformation(init_counted, update_counted)


def create_train_state(config: ml_collections.ConfigDict,
                       rng: jax.Array) -> TrainState:
  """Initialises a fresh `TrainState` from ``rng`` (a raw uint32 [2] key).

  Keys: one for the base key of the run, one per network initialiser.
  """
  base_rng, g_rng, d_rng = jax.random.split(rng, 3)
  g_params = models.init_generators(g_rng, config)
  d_params = models.init_discriminator(d_rng, config)
  g_tx, d_tx = make_optimizers(config)
  return TrainState(
      step=jnp.zeros((), jnp.int32),
      rng=base_rng,
      g_params=g_params,
      g_ema_params=jax.tree_util.tree_map(jnp.copy, g_params),
      d_params=d_params,
      g_opt_state=g_tx.init(g_params),
      d_opt_state=d_tx.init(d_params),
      w_avg=models.init_w_avg(config),
      pl_mean=jnp.zeros((), jnp.float32),
  )


def all_finite(tree: PyTree) -> jax.Array:
  """bool []: True iff every floating-point leaf of ``tree`` is finite."""
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)
            if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)]
  if not leaves:
    return jnp.array(True)
  return jnp.all(jnp.stack(leaves))


def param_count(tree: PyTree) -> int:
  return sum(int(x.size) for x in jax.tree_util.tree_leaves(tree))
