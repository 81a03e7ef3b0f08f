"""Tests of gan3d.state: the optimisers, in particular the shape learning
rate (``config.train.shape_lr_mult``)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import synthetic
from gan3d import models
from gan3d import representation
from gan3d import state as state_lib


def _tiny(**train):
  c = synthetic.get_config('tiny')
  c.train.update(train)
  return c


def _one_update(config, params):
  g_tx, _ = state_lib.make_optimizers(config)
  grads = jax.tree_util.tree_map(jnp.ones_like, params)
  updates, _ = g_tx.update(grads, g_tx.init(params), params)
  return updates


def test_shape_lr_mult_scales_only_the_shape_outputs_of_G_o():
  c = _tiny()
  params = jax.eval_shape(lambda k: models.init_generators(k, c), jax.random.PRNGKey(0))
  params = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), params)
  base = _one_update(c, params)
  mult = _one_update(_tiny(shape_lr_mult=0.1), params)
  k = 3 * int(c.model.shape_pyramid_levels)
  seen = 0
  for (path, u0), (_, u1) in zip(jax.tree_util.tree_flatten_with_path(base)[0],
                                 jax.tree_util.tree_flatten_with_path(mult)[0]):
    name = jax.tree_util.keystr(path)
    ratio = np.asarray(u1) / np.asarray(u0)
    if name.startswith("['object']") and '_torgb' in name and 'affine' not in name:
      seen += 1
      assert u0.shape[-1] == k + 3, name
      np.testing.assert_allclose(ratio[..., :k], 0.1, rtol=1e-5, err_msg=name)
      np.testing.assert_allclose(ratio[..., k:], 1.0, rtol=1e-6, err_msg=name)
    else:
      np.testing.assert_allclose(ratio, 1.0, rtol=1e-6, err_msg=name)
  # kernel + bias of every toRGB of G_o (blocks 4 .. 2N).
  n_blocks = int(np.log2(2 * c.resolution)) - 1
  assert seen == 2 * n_blocks


def test_shape_lr_mult_one_is_plain_adam():
  """The default keeps the optimiser state of the paper's Adam (old
  checkpoints restore)."""
  c = _tiny()
  g_tx, _ = state_lib.make_optimizers(c)
  params = {'w': jnp.zeros(3)}
  ref = state_lib.optax.adam(c.train.g_lr, b1=c.train.adam_b1, b2=c.train.adam_b2,
                             eps=c.train.adam_eps)
  assert (jax.tree_util.tree_structure(g_tx.init(params))
          == jax.tree_util.tree_structure(ref.init(params)))


def test_scale_shape_updates_rejects_bad_mult():
  with pytest.raises(ValueError, match='shape_lr_mult'):
    state_lib.scale_shape_updates(0.0, 12)


def _shape_channels(params, config, z):
  """G_o's raw shape channels [B, 2n, 2n, 3K] for latents z (no noise)."""
  ws, _ = models.map_latents(params, z, z, jax.random.PRNGKey(0), config)
  raw = models.synthesize(params, ws, None, config)['object']
  return representation.split_object_output(raw, int(config.model.shape_pyramid_levels))


@pytest.mark.parametrize('scale', [0.0, 0.25])
def test_shape_init_scale_shrinks_only_the_untrained_shape(scale):
  """model.shape_init_scale multiplies the untrained shape channels (they are
  linear in the toRGB kernels, biases start at 0); the texture is unchanged,
  and 0 starts the generator exactly at its base surface."""
  c = synthetic.get_config('tiny,no_size')
  c.model.shape_param = 'offset_paraboloid'
  c_s = synthetic.get_config('tiny,no_size')
  c_s.model.shape_param = 'offset_paraboloid'
  c_s.model.shape_init_scale = scale
  key = jax.random.PRNGKey(3)
  p, p_s = models.init_generators(key, c), models.init_generators(key, c_s)
  z = jax.random.normal(jax.random.PRNGKey(4), (2, int(c.model.z_dim)))
  shape, tex = _shape_channels(p, c, z)
  shape_s, tex_s = _shape_channels(p_s, c_s, z)
  assert float(jnp.abs(shape).max()) > 1e-3
  np.testing.assert_allclose(np.asarray(shape_s), scale * np.asarray(shape), atol=1e-6)
  np.testing.assert_array_equal(np.asarray(tex_s), np.asarray(tex))
  if scale == 0.0:
    s = representation.build_shape_image(shape_s, c_s.model)
    n = s.shape[1]
    base = representation.base_surface(n, 'paraboloid', c_s.model.base_radius,
                                       c_s.model.base_height, c_s.model.base_zero_radius)
    np.testing.assert_allclose(np.asarray(s[0]), base, atol=1e-6)


def test_shape_init_scale_rejects_negative():
  with pytest.raises(ValueError, match='shape_init_scale'):
    models.scale_shape_init({}, -0.1, 12)


def test_shape_freeze_steps_hold_the_shape_then_release_it():
  """train.shape_freeze_steps = S: G's shape weights get zero updates for S
  steps, then the usual (shape_lr_mult-scaled) Adam updates; the rest of G
  always trains."""
  c = _tiny(shape_freeze_steps=2)
  params = jax.eval_shape(lambda k: models.init_generators(k, c), jax.random.PRNGKey(0))
  params = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), params)
  g_tx, _ = state_lib.make_optimizers(c)
  ref_tx, _ = state_lib.make_optimizers(_tiny())
  grads = jax.tree_util.tree_map(jnp.ones_like, params)
  opt, ref_opt = g_tx.init(params), ref_tx.init(params)
  k = 3 * int(c.model.shape_pyramid_levels)
  update = jax.jit(g_tx.update)
  for step in range(4):
    u, opt = update(grads, opt, params)
    r, ref_opt = ref_tx.update(grads, ref_opt, params)
    for (path, a), (_, b) in zip(jax.tree_util.tree_flatten_with_path(u)[0],
                                 jax.tree_util.tree_flatten_with_path(r)[0]):
      a, b = np.asarray(a), np.asarray(b)
      if models.is_shape_output(path):
        want = 0.0 * b[..., :k] if step < 2 else b[..., :k]
        np.testing.assert_allclose(a[..., :k], want, rtol=1e-6, atol=0)
        np.testing.assert_allclose(a[..., k:], b[..., k:], rtol=1e-6)
      else:
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_shape_freeze_steps_rejects_negative():
  with pytest.raises(ValueError, match='shape_freeze_steps'):
    state_lib.scale_shape_updates(1.0, 12, -1)


@pytest.mark.parametrize('bias_mult', [0.0, 0.1])
def test_shape_bias_lr_mult_scales_only_the_shape_biases(bias_mult):
  """train.shape_bias_lr_mult = b: the toRGB biases' shape entries get
  b x shape_lr_mult x Adam's update; their kernels get shape_lr_mult x it,
  the texture channels and every other leaf plain Adam's."""
  c = _tiny()
  params = jax.eval_shape(lambda k: models.init_generators(k, c), jax.random.PRNGKey(0))
  params = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), params)
  base = _one_update(c, params)
  scaled = _one_update(_tiny(shape_lr_mult=0.5, shape_bias_lr_mult=bias_mult), params)
  k = 3 * int(c.model.shape_pyramid_levels)
  biases = kernels = 0
  for (path, u0), (_, u1) in zip(jax.tree_util.tree_flatten_with_path(base)[0],
                                 jax.tree_util.tree_flatten_with_path(scaled)[0]):
    name = jax.tree_util.keystr(path)
    u0, u1 = np.asarray(u0), np.asarray(u1)
    if models.is_shape_output(path):
      is_bias = name.endswith("['bias']")
      biases, kernels = biases + is_bias, kernels + (not is_bias)
      want = 0.5 * bias_mult if is_bias else 0.5
      np.testing.assert_allclose(u1[..., :k], want * u0[..., :k], rtol=1e-5, err_msg=name)
      np.testing.assert_allclose(u1[..., k:], u0[..., k:], rtol=1e-6, err_msg=name)
    else:
      np.testing.assert_allclose(u1, u0, rtol=1e-6, err_msg=name)
  assert biases == kernels > 0


def test_shape_bias_lr_mult_rejects_negative():
  with pytest.raises(ValueError, match='shape_bias_lr_mult'):
    state_lib.scale_shape_updates(1.0, 12, 0, -0.5)
