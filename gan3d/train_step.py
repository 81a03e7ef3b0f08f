"""One compiled training update of the 3D GAN (paper section 4, eq 5).

``train_step(state, batch) -> (state, metrics)`` does, in one XLA program:

1. D step: fakes from fresh latents ``z_o, z_b ~ N(0, I)`` and viewpoints
   ``v ~ p_v`` (rendered by `gan3d.models.generate`), logistic loss; on every
   ``r1_interval``-th step (lazy regularisation) the R1 penalty on reals is
   added with weight ``r1_gamma / 2 * r1_interval``.
2. G step against the updated D: non-saturating loss on fresh latents and
   viewpoints; on every ``pl_interval``-th step (if ``pl_weight > 0``) the
   path-length penalty w.r.t. the styles with weight ``pl_weight *
   pl_interval``; with ``lean_weight > 0`` the lean penalty
   (`losses.lean_penalty`, the square of the logged ``lean``, by
   ``lean_measure``) too, and with
   ``smooth_weight > 0`` the smoothness prior (`losses.normal_consistency`,
   the logged ``bend``), with ``crease_weight > 0`` the crease prior
   (`losses.crease_penalty`, the logged ``crease``).
3. EMA of the generator by images seen (half-life ``ema_kimg``), running
   ``w_avg`` of the mapping outputs, ``step += 1``.

The lazy regularisers are branches of `jax.lax.cond`, so there is one
compiled function per (progressive) stage; only the taken branch runs.

RNG: ``rng = fold_in(state.rng, state.step)`` is split once into one key per
consumer (`KEY_NAMES`); no key is used twice.

Parallelism: `jax.jit` over a 1-D device mesh: state replicated, the batch
(``[B, N, N, 3]``, global) sharded along ``'data'``; latents, viewpoints and
the generated images are constrained to the same sharding, XLA inserts the
gradient all-reduce. The global batch, its random numbers (threefry is
partitionable) and thus the update do not depend on the device count. The
state is donated.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Optional

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from gan3d import distributed
from gan3d import losses
from gan3d import models
from gan3d import state as state_lib
from gan3d.models import lighting
from gan3d.render import camera
from gan3d.render import topology

# One key per random consumer of a step (split from fold_in(rng, step)).
KEY_NAMES = (
    'd_z_object', 'd_z_background', 'd_viewpoint', 'd_generate',
    'g_z_object', 'g_z_background', 'g_viewpoint', 'g_generate',
    'pl_z_object', 'pl_z_background', 'pl_viewpoint', 'pl_generate',
    'pl_direction',
    # Appended (the keys above are unchanged by new names: threefry splits
    # are prefix-stable): lights, drawn only with config.light.model != none.
    'd_light', 'g_light', 'pl_light',
)


@dataclasses.dataclass(frozen=True)
class Stage:
  """Static description of a progressive-growing stage.

  Attributes:
    res: rendered resolution of the stage (== config.resolution when not
      progressive).
    fade_start_img / fade_img: images seen when the fade-in of this stage
      started and its length; fade_alpha = clip((nimg - start) / len, 0, 1).
      fade_img == 0 means no fade (alpha = 1).
  """
  res: int
  fade_start_img: float = 0.0
  fade_img: float = 0.0


def progressive_stages(config: ml_collections.ConfigDict) -> list[tuple[int, Stage]]:
  """``[(first_step, Stage), ...]`` of the progressive schedule (ProGAN).

  The first stage trains ``progressive_stable_kimg``; every following stage
  fades in over ``progressive_fade_kimg`` then trains
  ``progressive_stable_kimg`` at full alpha. The last stage runs to the end.
  Without ``model.progressive``: one stage at ``config.resolution``.
  """
  n = int(config.resolution)
  if not config.model.progressive:
    return [(0, Stage(res=n))]
  b = int(config.train.batch_size)
  fade = float(config.train.progressive_fade_kimg) * 1000.0
  stable = float(config.train.progressive_stable_kimg) * 1000.0
  res = int(config.model.progressive_start_res)
  out = [(0, Stage(res=res))]
  nimg = stable
  while res < n:
    res *= 2
    first_step = int(np.ceil(nimg / b))
    out.append((first_step, Stage(res=res, fade_start_img=first_step * b,
                                  fade_img=fade)))
    nimg = first_step * b + fade + stable
  return out


def stage_at(config: ml_collections.ConfigDict, step: int) -> Stage:
  """The `Stage` that step ``step`` trains in."""
  current = None
  for first, stage in progressive_stages(config):
    if step >= first:
      current = stage
  return current


def fade_alpha(stage: Stage, nimg: jax.Array) -> jax.Array:
  """float32 []: fade-in weight of the newest block at ``nimg`` images seen."""
  if stage.fade_img <= 0:
    return jnp.ones((), jnp.float32)
  a = (nimg.astype(jnp.float32) - stage.fade_start_img) / stage.fade_img
  return jnp.clip(a, 0.0, 1.0)


def _area_downsample(x: jax.Array, factor: int) -> jax.Array:
  """``[B, H, W, C] -> [B, H/f, W/f, C]`` by averaging f x f blocks."""
  if factor == 1:
    return x
  b, h, w, c = x.shape
  return x.reshape(b, h // factor, factor, w // factor, factor, c).mean((2, 4))


def reals_at_stage(images: jax.Array, stage: Stage, alpha: jax.Array) -> jax.Array:
  """Real images ``[B, N, N, 3]`` -> ``[B, res, res, 3]`` for the stage.

  During a fade-in the reals are blended like the generator's output (ProGAN):
  ``lerp(up2(down2(x_res)), x_res, alpha)``.
  """
  n = images.shape[1]
  x = _area_downsample(images, n // stage.res)
  if stage.fade_img > 0:
    low = _area_downsample(x, 2)
    low = jnp.repeat(jnp.repeat(low, 2, axis=1), 2, axis=2)
    x = low + (x - low) * alpha
  return x


def _split_keys(rng: jax.Array) -> dict[str, jax.Array]:
  keys = jax.random.split(rng, len(KEY_NAMES))
  return dict(zip(KEY_NAMES, keys))


def _sample_inputs(keys: dict, prefix: str, batch: int,
                   config: ml_collections.ConfigDict,
                   constrain: Callable[[jax.Array], jax.Array]):
  """Latents ``z_o, z_b [B, z_dim]``, viewpoints ``[B, 2]`` and lights
  ``[B, 4]`` (None without lighting) for one phase."""
  zd = int(config.model.z_dim)
  z_o = constrain(jax.random.normal(keys[prefix + '_z_object'], (batch, zd)))
  z_b = constrain(jax.random.normal(keys[prefix + '_z_background'], (batch, zd)))
  v = camera.sample_viewpoints(keys[prefix + '_viewpoint'], batch,
                               yaw_range_deg=tuple(config.viewpoint.yaw_range_deg),
                               pitch_range_deg=tuple(config.viewpoint.pitch_range_deg))
  light = lighting.prior_lights(keys[prefix + '_light'], batch, config)
  return z_o, z_b, constrain(v), None if light is None else constrain(light)


def train_step(state: state_lib.TrainState, batch: dict,
               *, config: ml_collections.ConfigDict, stage: Stage,
               constrain: Callable[[jax.Array], jax.Array] = lambda x: x
               ) -> tuple[state_lib.TrainState, dict]:
  """One D + G update (see module docstring). Pure; jit with `make_train_step`.

  Args:
    state: the `TrainState`.
    batch: ``{'image': [B, N, N, 3]}`` real images in [-1, 1] (global batch).
    config: the experiment config (static).
    stage: progressive stage (static).
    constrain: sharding constraint for batch-major arrays (identity off-mesh).
  Returns:
    ``(new_state, metrics)``; metrics are float32 scalars, ``finite`` is 1.0
    iff every loss and gradient of the step is finite.
  """
  t = config.train
  images = batch['image']
  b, n = images.shape[0], int(config.resolution)
  chex.assert_shape(images, (b, n, n, 3))
  keys = _split_keys(jax.random.fold_in(state.rng, state.step))
  nimg = state.step.astype(jnp.float32) * b
  alpha = fade_alpha(stage, nimg)
  real = constrain(reals_at_stage(images, stage, alpha))
  # The step needs only the images: no separate geometry render when
  # config.render.supersample > 1 (`models.render_scene`).
  gen_kw = dict(mixing=True, stage_res=stage.res if stage.res != n else None,
                fade_alpha=alpha, geometry_maps=False)

  def disc(d_params, x):
    return models.discriminate(d_params, x, config,
                               stage_res=gen_kw['stage_res'], fade_alpha=alpha)

  g_tx, d_tx = state_lib.make_optimizers(config)

  # ---- D step (eq 5, D side) + lazy R1.
  z_o, z_b, v, light = _sample_inputs(keys, 'd', b, config, constrain)
  fake, _ = models.generate(state.g_params, z_o, z_b, v, keys['d_generate'],
                            config, light=light, **gen_kw)
  fake = constrain(jax.lax.stop_gradient(fake))

  def d_loss(d_params, with_r1: bool):
    real_logits = disc(d_params, real)
    fake_logits = disc(d_params, fake)
    adv = losses.d_logistic_loss(real_logits, fake_logits)
    r1 = jnp.zeros((), jnp.float32)
    if with_r1:
      r1 = losses.r1_penalty(lambda x: disc(d_params, x), real)
    total = adv + (0.5 * t.r1_gamma * t.r1_interval) * r1
    aux = dict(d_loss=adv, r1=r1, real_logits=jnp.mean(real_logits),
               fake_logits=jnp.mean(fake_logits))
    return total, aux

  def d_grads(with_r1):
    return lambda p: jax.grad(d_loss, has_aux=True)(p, with_r1)

  do_r1 = jnp.asarray(t.r1_interval > 0 and t.r1_gamma > 0) & (
      state.step % max(int(t.r1_interval), 1) == 0)
  dg, d_aux = jax.lax.cond(do_r1, d_grads(True), d_grads(False), state.d_params)
  d_updates, d_opt_state = d_tx.update(dg, state.d_opt_state, state.d_params)
  d_params = optax.apply_updates(state.d_params, d_updates)

  # ---- G step (eq 5, G side) against the updated D + lazy path length.
  z_o, z_b, v, g_light = _sample_inputs(keys, 'g', b, config, constrain)

  # train.lean_weight: the lean penalty (`losses.lean_penalty`), off by default;
  # train.lean_measure: which lean it and the logged ``lean`` use.
  lean_weight = float(t.get('lean_weight', 0.0))
  lean_measure = str(t.get('lean_measure', 'mesh'))
  # train.smooth_weight: the smoothness prior (`losses.normal_consistency`).
  smooth_weight = float(t.get('smooth_weight', 0.0))
  # train.crease_weight: the crease prior (`losses.crease_penalty`).
  crease_weight = float(t.get('crease_weight', 0.0))

  def g_adv(g_params):
    fake, scene = models.generate(g_params, z_o, z_b, v, keys['g_generate'],
                                  config, light=g_light, **gen_kw)
    loss = losses.g_nonsaturating_loss(disc(d_params, constrain(fake)))
    # Renderer health: triangles clipped by the pixel window and soft-layer
    # pairs beyond the pair list's capacity (both should stay 0).
    health = {k: jnp.max(scene[k]) for k in ('overflow', 'soft_overflow')}
    health['lean'] = jnp.mean(losses.lean_of(lean_measure, scene['vertices'],
                                             scene['faces']))
    n = scene['shape_image'].shape[1]
    health['bend'] = jnp.mean(losses.normal_consistency(
        scene['vertices'], scene['faces'],
        jnp.asarray(topology.face_adjacency(n), jnp.int32)))
    health['crease'] = jnp.mean(losses.crease_penalty(scene['shape_image']))
    return loss, (scene['w'], health)

  pl_b = max(b // int(t.pl_batch_shrink), 1)

  def g_pl(g_params, pl_mean):
    """Path-length penalty on a smaller batch; returns (penalty, new_mean)."""
    zo, zb, vp, pl_light = _sample_inputs(keys, 'pl', pl_b, config, constrain)
    k_map, k_noise, k_crop = (jax.random.fold_in(keys['pl_generate'], i)
                              for i in range(3))
    ws, _ = models.map_latents(g_params, zo, zb, k_map, config, mixing=True)

    def images_fn(ws):
      img, _ = models.generate_from_ws(g_params, ws, vp, k_noise, k_crop, config,
                                       stage_res=gen_kw['stage_res'],
                                       fade_alpha=alpha, light=pl_light)
      return img

    pen, new_mean, _ = losses.path_length_penalty(
        images_fn, ws, keys['pl_direction'], pl_mean, t.pl_decay)
    return pen, new_mean

  def g_loss(g_params, with_pl: bool):
    adv, (w, health) = g_adv(g_params)
    pl, pl_mean = jnp.zeros((), jnp.float32), state.pl_mean
    if with_pl:
      pl, pl_mean = g_pl(g_params, state.pl_mean)
    total = adv + (t.pl_weight * t.pl_interval) * pl
    if lean_weight > 0:
      total = total + lean_weight * jnp.square(health['lean'])
    if smooth_weight > 0:
      total = total + smooth_weight * health['bend']
    if crease_weight > 0:
      total = total + crease_weight * health['crease']
    return total, dict(g_loss=adv, pl=pl, pl_mean=pl_mean, w=w, **health)

  def g_grads(with_pl):
    return lambda p: jax.grad(g_loss, has_aux=True)(p, with_pl)

  do_pl = jnp.asarray(t.pl_weight > 0) & (
      state.step % int(t.pl_interval) == 0)
  if t.pl_weight > 0:
    gg, g_aux = jax.lax.cond(do_pl, g_grads(True), g_grads(False), state.g_params)
  else:
    gg, g_aux = g_grads(False)(state.g_params)
  g_updates, g_opt_state = g_tx.update(gg, state.g_opt_state, state.g_params)
  g_params = optax.apply_updates(state.g_params, g_updates)

  # ---- EMA by images seen, w_avg, step.
  beta = losses.ema_beta(b, nimg, t.ema_kimg, t.ema_rampup)
  g_ema = losses.ema_update(state.g_ema_params, g_params, beta)
  w_avg = losses.update_w_avg(state.w_avg, g_aux['w'], config.model.w_avg_beta)

  d_norm, g_norm = optax.tree.norm(dg), optax.tree.norm(gg)
  metrics = dict(
      d_loss=d_aux['d_loss'], g_loss=g_aux['g_loss'],
      r1=d_aux['r1'], r1_step=do_r1.astype(jnp.float32),
      pl=g_aux['pl'], pl_step=(do_pl & (t.pl_weight > 0)).astype(jnp.float32),
      pl_mean=g_aux['pl_mean'],
      real_logits=d_aux['real_logits'], fake_logits=d_aux['fake_logits'],
      d_grad_norm=d_norm, g_grad_norm=g_norm, ema_beta=beta, fade_alpha=alpha,
      render_overflow=g_aux['overflow'], soft_overflow=g_aux['soft_overflow'],
      lean=g_aux['lean'], bend=g_aux['bend'], crease=g_aux['crease'])
  metrics = {k: jnp.asarray(v, jnp.float32) for k, v in metrics.items()}
  metrics['finite'] = jnp.all(jnp.isfinite(jnp.stack(list(metrics.values())))
                              ).astype(jnp.float32)
  new_state = state.replace(
      step=state.step + 1, g_params=g_params, g_ema_params=g_ema,
      d_params=d_params, g_opt_state=g_opt_state, d_opt_state=d_opt_state,
      w_avg=w_avg, pl_mean=g_aux['pl_mean'])
  return new_state, metrics


def make_train_step(config: ml_collections.ConfigDict, mesh: Mesh,
                    stage: Optional[Stage] = None, jit: bool = True
                    ) -> Callable[[state_lib.TrainState, dict],
                                  tuple[state_lib.TrainState, dict]]:
  """``train_step`` bound to ``config``/``stage`` and jitted over ``mesh``.

  State in/out replicated and donated; batch sharded along ``'data'``.
  """
  stage = stage or stage_at(config, 0)
  data = NamedSharding(mesh, P(distributed.DATA_AXIS))
  repl = NamedSharding(mesh, P())

  def constrain(x):
    return jax.lax.with_sharding_constraint(x, data)

  fn = functools.partial(train_step, config=config, stage=stage,
                         constrain=constrain)
  if not jit:
    return fn
  return jax.jit(fn, in_shardings=(repl, data), out_shardings=(repl, repl),
                 donate_argnums=(0,))
