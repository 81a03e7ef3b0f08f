"""Tests of gan3d.models: layers, mapping/synthesis, G_o/G_b, the discriminator,
styles (mixing, truncation), progressive growing and ``generate``.

Shapes for several resolutions are checked with ``jax.eval_shape`` (no
compilation); real computations use one tiny resolution-8 configuration.
"""

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gan3d import models
from gan3d.models import layers


def _cfg(resolution=8, **model_kw):
  c = ml_collections.ConfigDict()
  c.resolution = resolution
  c.model = models.model_config('tiny')
  c.model.update(model_kw)
  c.render = models.render_config()
  return c


def _randn(seed, shape):
  return jnp.asarray(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def _count(tree):
  return sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(tree))


# ----------------------------------------------------------------------------
# Layers.


def test_fir_resampling_preserves_constants_and_shapes():
  x = jnp.ones((1, 8, 8, 2))
  up = layers.upsample2d(x)
  assert up.shape == (1, 16, 16, 2)
  np.testing.assert_allclose(up[:, 2:-2, 2:-2], 1.0, rtol=1e-6)
  down = layers.downsample2d(x)
  assert down.shape == (1, 4, 4, 2)
  np.testing.assert_allclose(down[:, 1:-1, 1:-1], 1.0, rtol=1e-6)
  # StyleGAN2's zero padding loses a quarter at the border; edge padding none.
  np.testing.assert_allclose(up[0, 0, 2:-2], 0.75, rtol=1e-6)
  np.testing.assert_allclose(layers.upsample2d(x, 'edge'), 1.0, rtol=1e-6)
  with pytest.raises(ValueError, match='pad'):
    layers.upsample2d(x, 'reflect')


@pytest.mark.parametrize('shape', [(2, 4, 4, 3), (1, 8, 16, 2)])
def test_edge_padded_upsampling_is_upfirdn_of_the_edge_padded_input(shape):
  """upsample2d(x, 'edge') = StyleGAN2's upsampling of x with its edge
  pixels repeated once, cropped back to 2H x 2W; the same as zero padding
  away from the border; values and gradients."""
  x = _randn(5, shape)
  ref = lambda x: layers.upsample2d(
      jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode='edge'))[:, 2:-2, 2:-2]
  fast = lambda x: layers.upsample2d(x, 'edge')
  np.testing.assert_allclose(fast(x), ref(x), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(fast(x)[:, 2:-2, 2:-2], layers.upsample2d(x)[:, 2:-2, 2:-2],
                             rtol=1e-5, atol=1e-6)
  probe = _randn(6, fast(x).shape)
  g_fast = jax.grad(lambda x: jnp.sum(fast(x) * probe))(x)
  g_ref = jax.grad(lambda x: jnp.sum(ref(x) * probe))(x)
  np.testing.assert_allclose(g_fast, g_ref, rtol=1e-5, atol=1e-6)


def test_demodulation_makes_output_invariant_to_style_scale():
  m = layers.ModulatedConv2d(5, 3)
  x, w = _randn(0, (2, 8, 8, 4)), _randn(1, (2, 7))
  p = {'params': layers.fast_init(m, jax.random.key(0), x, w)}
  y = m.apply(p, x, w)
  p2 = jax.tree_util.tree_map(lambda a: a, p)
  p2['params']['affine']['kernel'] = p['params']['affine']['kernel'] * 3.0
  p2['params']['affine']['bias'] = p['params']['affine']['bias'] * 3.0
  np.testing.assert_allclose(m.apply(p2, x, w), y, rtol=1e-4, atol=1e-5)
  # Without demodulation the output scales with the style.
  m_nd = layers.ModulatedConv2d(5, 3, demodulate=False)
  np.testing.assert_allclose(m_nd.apply(p2, x, w), 3.0 * m_nd.apply(p, x, w), rtol=1e-4, atol=1e-5)


def test_equalized_lr_runtime_scale():
  d = layers.EqualDense(3, lr_mult=0.01)
  x = jnp.ones((1, 16))
  p = {'params': layers.fast_init(d, jax.random.key(0), x)}
  k = p['params']['kernel']
  assert 50 < float(jnp.std(k)) < 200  # stored ~ N(0, 1/lr_mult)
  np.testing.assert_allclose(d.apply(p, x), x @ (k * 0.01 / 4.0), rtol=1e-5)


def test_fast_init_matches_flax_init_structure():
  m = layers.StyleLayer(6, up=True)
  x, w = jnp.zeros((1, 4, 4, 5)), jnp.zeros((1, 7))
  slow = jax.eval_shape(lambda k: m.init(k, x, w, None)['params'], jax.random.key(0))
  fast = layers.fast_init(m, jax.random.key(0), x, w, None)
  assert jax.tree_util.tree_structure(slow) == jax.tree_util.tree_structure(fast)
  for a, b in zip(jax.tree_util.tree_leaves(slow), jax.tree_util.tree_leaves(fast)):
    assert a.shape == b.shape and a.dtype == b.dtype
  np.testing.assert_array_equal(fast['conv']['affine']['bias'], 1.0)   # styles start at 1
  np.testing.assert_array_equal(fast['bias'], 0.0)
  assert 0.7 < float(jnp.std(fast['conv']['kernel'])) < 1.3


def test_mapping_pixel_norm_makes_z_scale_irrelevant():
  m = models.generator.MappingNetwork(z_dim=8, w_dim=8, num_layers=2)
  z = _randn(2, (3, 8))
  p = {'params': layers.fast_init(m, jax.random.key(0), z)}
  np.testing.assert_allclose(m.apply(p, z), m.apply(p, 5.0 * z), rtol=1e-4, atol=1e-6)
  with pytest.raises(ValueError, match='z_dim'):
    m.apply(p, jnp.zeros((3, 9)))


# ----------------------------------------------------------------------------
# Shapes and parameter counts (eval_shape: no compilation).


@pytest.mark.parametrize('resolution,levels', [(8, 1), (16, 4), (32, 4)])
def test_generator_and_discriminator_shapes(resolution, levels):
  c = _cfg(resolution, shape_pyramid_levels=levels)
  params = jax.eval_shape(functools.partial(models.init_generators, config=c), jax.random.key(0))
  b, zd = 4, c.model.z_dim
  z = jax.ShapeDtypeStruct((b, zd), jnp.float32)
  vp = jax.ShapeDtypeStruct((b, 2), jnp.float32)
  images, scene = jax.eval_shape(
      functools.partial(models.generate, config=c, mixing=True), params, z, z, vp,
      jax.random.key(1))
  n = resolution
  assert images.shape == (b, n, n, 3) and images.dtype == jnp.float32
  expected = dict(shape_image=(b, n, n, 3), vertices=(b, n * n, 3), uv=(n * n, 2),
                  texture=(b, 2 * n, 2 * n, 3), background=(b, n, n, 3),
                  alpha=(b, n, n), depth=(b, n, n), normals=(b, n, n, 3))
  for k, shape in expected.items():
    assert scene[k].shape == shape, k
    assert scene[k].dtype == jnp.float32, k
  assert scene['faces'].shape[1] == 3 and scene['faces'].dtype == jnp.int32
  nws = models.num_ws(c)
  assert nws == 2 * int(np.log2(2 * n)) - 2
  assert scene['ws']['object'].shape == (b, nws, c.model.w_dim)
  assert scene['w']['background'].shape == (b, c.model.w_dim)
  d_params = jax.eval_shape(functools.partial(models.init_discriminator, config=c), jax.random.key(2))
  logits = jax.eval_shape(functools.partial(models.discriminate, config=c), d_params, images)
  assert logits.shape == (b,) and logits.dtype == jnp.float32
  # G_o: 3K shape + 3 texture channels at 2N.
  raw = jax.eval_shape(lambda p, ws: models.synthesize(p, ws, None, c), params, scene['ws'])
  assert raw['object'].shape == (b, 2 * n, 2 * n, 3 * levels + 3)
  assert raw['background'].shape == (b, 2 * n, 2 * n, 3)


def test_parameter_count_tiny_matches_hand_count():
  c = _cfg(8, z_dim=4, w_dim=4, mapping_layers=2, channel_base=32, channel_max=4,
           d_channel_base=32, d_channel_max=4)
  g = jax.eval_shape(functools.partial(models.init_generators, config=c), jax.random.key(0))
  d = jax.eval_shape(functools.partial(models.init_discriminator, config=c), jax.random.key(0))
  # G_b at 16x16: channels 4 (res 4), 4 (8), 2 (16); w_dim 4.
  aff = lambda cin: 4 * cin + cin                     # affine w -> styles
  style = lambda cin, cout: aff(cin) + 9 * cin * cout + 1 + cout  # + noise + bias
  torgb = lambda cin, cout: aff(cin) + cin * cout + cout
  mapping = 2 * (4 * 4 + 4)
  synth = lambda out: (4 * 4 * 4 + style(4, 4) + torgb(4, out) + style(4, 4) + style(4, 4)
                       + torgb(4, out) + style(4, 2) + style(2, 2) + torgb(2, out))
  assert _count(g['background']) == mapping + synth(3) == 844
  assert _count(g['object']) == mapping + synth(3 * 4 + 3)
  # D at 8x8: fromRGB, one residual block 8->4, epilogue (mbstd adds 1 channel).
  hand_d = (3 * 4 + 4) + (4 * 4) + (9 * 16 + 4) * 2 + (9 * 5 * 4 + 4) + (64 * 4 + 4) + (4 + 1)
  assert _count(d) == hand_d == 777


def test_parameter_count_paper_128():
  c = _cfg(128)
  c.model = models.model_config('paper')
  g = jax.eval_shape(functools.partial(models.init_generators, config=c), jax.random.key(0))
  d = jax.eval_shape(functools.partial(models.init_discriminator, config=c), jax.random.key(0))
  counts = {'G_o': _count(g['object']), 'G_b': _count(g['background']), 'D': _count(d),
            'mapping (each G)': _count(g['object']['mapping'])}
  print('paper 128x128 parameter counts:', counts)
  assert counts['mapping (each G)'] == 8 * (512 * 512 + 512)
  assert 20e6 < counts['G_o'] < 40e6 and 20e6 < counts['D'] < 40e6


# ----------------------------------------------------------------------------
# Styles.


def test_mix_styles():
  a, b = jnp.zeros((64, 6, 3)), jnp.ones((64, 6, 3))
  m = models.mix_styles(a, b, jax.random.key(0), 1.0)
  frac = m[..., 0]  # [B, L]: 0 from a, 1 from b
  assert (frac[:, 0] == 0).all()                       # cutoff >= 1
  assert (jnp.diff(frac, axis=1) >= 0).all()            # a prefix, then b
  assert (frac[:, -1] == 1).all()                       # cutoff <= L-1
  assert len(set(np.asarray(frac.sum(1)).tolist())) > 1  # crossover drawn per sample
  np.testing.assert_array_equal(models.mix_styles(a, b, jax.random.key(0), 0.0), a)
  half = models.mix_styles(a, b, jax.random.key(1), 0.5)[..., -1, 0]
  assert 0 < float(half.mean()) < 1


def test_truncate():
  ws = _randn(0, (2, 4, 3))
  avg = _randn(1, (3,))
  np.testing.assert_allclose(models.truncate(ws, avg, 0.0), jnp.broadcast_to(avg, ws.shape))
  np.testing.assert_allclose(models.truncate(ws, avg, 1.0), ws, rtol=1e-6)
  np.testing.assert_allclose(models.truncate(ws, avg, 0.5), (ws + avg) / 2, rtol=1e-5)


# ----------------------------------------------------------------------------
# Real computations on one tiny configuration.


@pytest.fixture(scope='module')
def tiny():
  c = _cfg(8)
  params = models.init_generators(jax.random.key(0), c)
  d_params = models.init_discriminator(jax.random.key(1), c)
  b = 4
  z_o, z_b = _randn(10, (b, c.model.z_dim)), _randn(11, (b, c.model.z_dim))
  vp = jnp.asarray(np.random.default_rng(12).uniform(-0.5, 0.5, (b, 2)).astype(np.float32))
  return c, params, d_params, z_o, z_b, vp


def test_map_latents_truncation_and_mixing(tiny):
  c, params, _, z_o, z_b, _ = tiny
  w_avg = {k: _randn(20 + i, (c.model.w_dim,)) for i, k in enumerate(('object', 'background'))}

  @functools.partial(jax.jit, static_argnames=('mixing',))
  def ml(psi, rng, mixing=False):
    return models.map_latents(params, z_o, z_b, rng, c, truncation_psi=psi, w_avg=w_avg,
                              mixing=mixing)

  ws1, w = ml(1.0, jax.random.key(0))
  for k in ('object', 'background'):
    np.testing.assert_allclose(ws1[k], jnp.broadcast_to(w[k][:, None], ws1[k].shape),
                               rtol=1e-5, atol=1e-6)
  ws0, _ = ml(0.0, jax.random.key(0))
  for k in ('object', 'background'):
    np.testing.assert_allclose(ws0[k], jnp.broadcast_to(w_avg[k], ws0[k].shape), atol=1e-5)
  # psi = 1 is the identity (no truncation even with a w_avg).
  ws_plain, _ = models.map_latents(params, z_o, z_b, jax.random.key(0), c)
  np.testing.assert_allclose(ws1['object'], ws_plain['object'], rtol=1e-5, atol=1e-6)
  with pytest.raises(ValueError, match='w_avg'):
    models.map_latents(params, z_o, z_b, jax.random.key(0), c, truncation_psi=0.5)
  # Mixing (prob 0.9): layers past the crossover come from another latent.
  wsm, _ = ml(1.0, jax.random.key(3), mixing=True)
  same = jnp.all(jnp.isclose(wsm['object'], ws1['object']), axis=-1)   # [B, L]
  assert bool(same[:, 0].all())
  assert not bool(same.all())


def test_progressive_fade_in():
  c = _cfg(16, progressive=True, progressive_start_res=8)
  params = models.init_generators(jax.random.key(0), c)
  ws, _ = models.map_latents(params, _randn(0, (2, c.model.z_dim)),
                             _randn(1, (2, c.model.z_dim)), jax.random.key(2), c)

  @functools.partial(jax.jit, static_argnames=('stage',))
  def synth(ws, alpha, stage):  # ws of the full network; a stage uses a prefix
    return models.synthesize(params, ws, None, c, stage_res=stage, fade_alpha=alpha)

  low = synth(ws, 1.0, stage=8)
  faded0 = synth(ws, 0.0, stage=16)
  full = synth(ws, 1.0, stage=16)
  assert low['object'].shape == (2, 16, 16, 15) and full['object'].shape == (2, 32, 32, 15)
  for k in low:
    np.testing.assert_allclose(faded0[k], layers.upsample2d(low[k]), rtol=1e-4, atol=1e-5)
    assert not np.allclose(full[k], faded0[k])
  # Compiled: about twice as fast as running the synthesis eagerly.
  default = jax.jit(lambda ws: models.synthesize(params, ws, None, c))(ws)
  np.testing.assert_allclose(full['object'], default['object'], rtol=1e-4, atol=1e-5)
  with pytest.raises(ValueError, match='progressive'):
    models.synthesize(params, ws, None, _cfg(16), stage_res=8)
  # Progressive discriminator at the lower stage.
  d_params = models.init_discriminator(jax.random.key(3), c)
  logits = jax.jit(lambda p, x: models.discriminate(p, x, c, stage_res=8, fade_alpha=0.5))(
      d_params, jnp.zeros((2, 8, 8, 3)))
  assert logits.shape == (2,)


def test_shape_max_res_band_limits_shape_channels():
  """Shape channels come from blocks <= shape_max_res only: they equal the
  upsampled output of the network truncated there, and do not depend on the
  parameters of higher blocks; the texture channels still do."""
  max_res = 8   # G_o runs at 2N = 16: blocks 4 and 8 feed the shape, 16 does not
  c = _cfg(8, shape_max_res=max_res, progressive=True, progressive_start_res=8)
  params = models.init_generators(jax.random.key(0), c)
  ws, _ = models.map_latents(params, _randn(0, (2, c.model.z_dim)),
                             _randn(1, (2, c.model.z_dim)), jax.random.key(2), c)
  k = 3 * c.model.shape_pyramid_levels
  full = models.synthesize(params, ws, jax.random.key(5), c)['object']
  assert full.shape == (2, 16, 16, k + 3)
  # Same as the truncated network's shape channels, upsampled to 2N.
  low = models.synthesize(params, ws, jax.random.key(5), c, stage_res=max_res // 2)['object']
  up = low
  while up.shape[1] < full.shape[1]:
    up = layers.upsample2d(up)
  np.testing.assert_allclose(full[..., :k], up[..., :k], rtol=1e-4, atol=1e-5)
  assert not np.allclose(full[..., k:], up[..., k:], atol=1e-3)
  # Perturbing the finest block moves the texture, not the shape.
  p2 = jax.tree_util.tree_map(lambda x: x, params)
  syn = dict(p2['object']['synthesis'])
  syn['b16_conv1'] = jax.tree_util.tree_map(lambda x: x * 1.5 + 0.1, syn['b16_conv1'])
  p2['object'] = dict(p2['object'], synthesis=syn)
  other = models.synthesize(p2, ws, jax.random.key(5), c)['object']
  np.testing.assert_allclose(other[..., :k], full[..., :k], rtol=1e-5, atol=1e-6)
  assert not np.allclose(other[..., k:], full[..., k:], atol=1e-3)
  # Default 0 = every block feeds the shape (the paper).
  c0 = _cfg(8)
  plain = models.synthesize(params, ws, jax.random.key(5), c0)['object']
  assert not np.allclose(plain[..., :k], full[..., :k], atol=1e-3)
  np.testing.assert_allclose(plain[..., k:], full[..., k:], rtol=1e-5, atol=1e-6)
  with pytest.raises(ValueError, match='shape_max_res'):
    models.make_generator(_cfg(8, shape_max_res=12), 'object')
  with pytest.raises(ValueError, match='shape_max_res'):
    models.make_generator(_cfg(8, shape_max_res=32), 'object')  # > 2N = 16


def test_separate_shape_branch_shares_no_weights():
  """shape_branch='separate': the shape channels depend only on the shape
  tower's parameters and the texture channels only on the main tower's
  (zero gradients across), every parameter gets a gradient, the shape
  tower's toRGB is a shape output (init scale / lr mult apply), and the
  progressive truncation still works."""
  max_res = 8
  c = _cfg(8, shape_max_res=max_res, shape_branch='separate', progressive=True,
           progressive_start_res=8)
  params = models.init_generators(jax.random.key(0), c)
  syn = params['object']['synthesis']
  assert {'shape_const', 'shape_b4_conv1', 'shape_b4_torgb', 'shape_b8_conv0',
          'shape_b8_conv1', 'shape_b8_torgb'} <= set(syn)
  assert not any(k.startswith('shape_b16') for k in syn)
  k = 3 * c.model.shape_pyramid_levels
  assert syn['shape_b8_torgb']['conv']['kernel'].shape[-1] == k
  ws, _ = models.map_latents(params, _randn(0, (2, c.model.z_dim)),
                             _randn(1, (2, c.model.z_dim)), jax.random.key(2), c)
  for stage_res in (4, 8):   # progressive stages: the tower truncates and upsamples
    out = jax.eval_shape(lambda p: models.synthesize(p, ws, jax.random.key(5), c,
                                                     stage_res=stage_res), params)
    assert out['object'].shape == (2, 2 * stage_res, 2 * stage_res, k + 3)

  @jax.jit
  def grads(p):   # one compilation: the gradients of the shape and the texture channels
    out, vjp = jax.vjp(lambda q: models.synthesize(q, ws, jax.random.key(5), c)['object'], p)
    assert out.shape == (2, 16, 16, k + 3)
    ct = _randn(7, out.shape)
    mask = jnp.arange(k + 3) < k
    return vjp(ct * mask)[0], vjp(ct * ~mask)[0]

  g_shape, g_tex = (g['object']['synthesis'] for g in grads(params))
  norm = lambda t: float(sum(jnp.sum(jnp.abs(x)) for x in jax.tree_util.tree_leaves(t)))
  for name in syn:
    is_shape = name.startswith('shape_')
    assert (norm(g_shape[name]) > 0) == is_shape, name
    assert (norm(g_tex[name]) > 0) == (not is_shape), name
  # shape_init_scale reaches the shape tower's toRGB only.
  c0 = _cfg(8, shape_max_res=max_res, shape_branch='separate', shape_init_scale=0.0)
  p0 = models.init_generators(jax.random.key(0), c0)
  s0 = p0['object']['synthesis']
  assert float(jnp.abs(s0['shape_b8_torgb']['conv']['kernel']).max()) == 0.0
  np.testing.assert_array_equal(s0['shape_b8_conv1']['conv']['kernel'],
                                syn['shape_b8_conv1']['conv']['kernel'])
  out0 = jax.jit(lambda p: models.synthesize(p, ws, jax.random.key(5), c0)['object'])(p0)
  np.testing.assert_allclose(out0[..., :k], 0.0, atol=1e-6)
  with pytest.raises(ValueError, match='shape_branch'):
    models.make_generator(_cfg(8, shape_branch='separate'), 'object')   # no shape_max_res
  with pytest.raises(ValueError, match='shape_branch'):
    models.make_generator(_cfg(8, shape_max_res=8, shape_branch='own'), 'object')


def test_learned_base_is_a_shared_offset_of_the_raw_shape_that_starts_at_zero():
  """model.learned_base_mult M: G_o has a [N, N, 3K] parameter 'shape_base',
  zero at the start (the untrained generator is unchanged), that
  build_scene adds as M x it to every sample's raw shape channels before
  eq 13: the same as adding it, repeated 2 x 2, to G_o's 2N output."""
  from gan3d.models import generator  # pylint: disable=g-import-not-at-top
  n, levels, mult = 8, 4, 5.0
  c, c0 = _cfg(n, learned_base_mult=mult), _cfg(n)
  params, params0 = (models.init_generators(jax.random.key(0), x) for x in (c, c0))
  assert 'shape_base' not in params0['object']
  assert params['object']['shape_base'].shape == (n, n, 3 * levels)
  assert not np.any(params['object']['shape_base'])
  rest = dict(params['object'])
  del rest['shape_base']
  jax.tree_util.tree_map(np.testing.assert_array_equal, rest, params0['object'])
  ws, _ = models.map_latents(params, _randn(0, (2, c.model.z_dim)),
                             _randn(1, (2, c.model.z_dim)), jax.random.key(2), c)
  raw0 = models.synthesize(params0, ws, None, c0)
  raw = models.synthesize(params, ws, None, c)
  np.testing.assert_array_equal(raw['object'], raw0['object'])
  assert raw['shape_base'].shape == (n, n, 3 * levels)
  b = _randn(3, (n, n, 3 * levels))
  params['object']['shape_base'] = b
  raw = models.synthesize(params, ws, None, c)
  np.testing.assert_allclose(raw['shape_base'], mult * b, rtol=1e-6)
  scene = generator.build_scene(raw, jax.random.key(4), c)
  up = jnp.repeat(jnp.repeat(mult * b, 2, 0), 2, 1)
  ref_raw = {'object': raw0['object'].at[..., :3 * levels].add(up[None]),
             'background': raw0['background']}
  ref = generator.build_scene(ref_raw, jax.random.key(4), c0)
  np.testing.assert_allclose(scene['shape_image'], ref['shape_image'], rtol=1e-5, atol=1e-6)
  assert not np.allclose(scene['shape_image'],
                         generator.build_scene(raw0, jax.random.key(4), c0)['shape_image'])
  # The gradient of the shape reaches it; it counts as a shape output
  # (train.shape_lr_mult and shape_freeze_steps scale its updates).
  grad = jax.grad(lambda q: jnp.sum(generator.build_scene(
      models.synthesize({**params, 'object': q}, ws, None, c), jax.random.key(4),
      c)['shape_image'] ** 2))(params['object'])
  assert np.all(np.isfinite(grad['shape_base'])) and np.any(grad['shape_base'])
  frozen = models.scale_shape_outputs(params, 0.0, 3 * levels)
  assert not np.any(frozen['object']['shape_base'])
  with pytest.raises(ValueError, match='learned_base_mult'):
    models.make_generator(_cfg(n, learned_base_mult=-1.0), 'object')


def test_learned_base_is_pooled_to_a_progressive_stage():
  """At a progressive stage n < N the learned base is its 2 x 2 block mean."""
  c = _cfg(16, progressive=True, progressive_start_res=8, learned_base_mult=2.0)
  params = models.init_generators(jax.random.key(0), c)
  b = _randn(5, (16, 16, 3 * c.model.shape_pyramid_levels))
  params['object']['shape_base'] = b
  ws, _ = models.map_latents(params, _randn(0, (1, c.model.z_dim)),
                             _randn(1, (1, c.model.z_dim)), jax.random.key(2), c)
  low = models.synthesize(params, ws, None, c, stage_res=8)
  np.testing.assert_allclose(low['shape_base'],
                             2.0 * b.reshape(8, 2, 8, 2, -1).mean((1, 3)), rtol=1e-5, atol=1e-6)


def test_coarse_learned_base_is_bilinearly_upsampled():
  """model.learned_base_res R < N: the parameter is [R, R, 3K] and the base
  added to the shape is its bilinear upsampling to N (smooth: each grid
  value spreads over N / R pixels); a constant grid gives a constant base."""
  from gan3d.models import generator  # pylint: disable=g-import-not-at-top
  c = _cfg(8, learned_base_mult=3.0, learned_base_res=4)
  params = models.init_generators(jax.random.key(0), c)
  assert params['object']['shape_base'].shape == (4, 4, 12)
  b = _randn(6, (4, 4, 12))
  params['object']['shape_base'] = b
  ws, _ = models.map_latents(params, _randn(0, (1, c.model.z_dim)),
                             _randn(1, (1, c.model.z_dim)), jax.random.key(2), c)
  raw = models.synthesize(params, ws, None, c)
  # Reference: output pixel i samples the grid at (i + 0.5) R / N - 0.5,
  # linearly between its two neighbours, clamped at the edges.
  x = (np.arange(8) + 0.5) * 4 / 8 - 0.5
  i0 = np.floor(x).astype(int)
  w = x - i0
  lo, hi = np.clip(i0, 0, 3), np.clip(i0 + 1, 0, 3)
  m = np.zeros((8, 4))
  np.add.at(m, (np.arange(8), lo), 1 - w)
  np.add.at(m, (np.arange(8), hi), w)
  ref = np.einsum('ih,hwc,jw->ijc', m, 3.0 * np.asarray(b), m)
  np.testing.assert_allclose(raw['shape_base'], ref, rtol=1e-5, atol=1e-6)
  # Linear interpolation: the output stays within the grid's range.
  up = np.asarray(generator.resize_base(b, 8))
  assert up.min() >= float(b.min()) - 1e-6 and up.max() <= float(b.max()) + 1e-6
  np.testing.assert_allclose(generator.resize_base(jnp.full((2, 2, 3), 0.7), 8), 0.7, rtol=1e-6)
  for bad in (6, 16, 1):
    with pytest.raises(ValueError, match='learned_base_res'):
      models.make_generator(_cfg(8, learned_base_mult=1.0, learned_base_res=bad), 'object')


def test_minibatch_stddev():
  x = _randn(0, (4, 2, 2, 3))
  y = models.minibatch_stddev(x, group_size=2)
  assert y.shape == (4, 2, 2, 4)
  # Groups pair samples i and i + B/G.
  expect0 = float(jnp.mean(jnp.std(jnp.stack([x[0], x[2]]), axis=0)))
  np.testing.assert_allclose(y[0, :, :, 3], expect0, rtol=1e-4)
  np.testing.assert_allclose(y[2, :, :, 3], expect0, rtol=1e-4)
  with pytest.raises(ValueError, match='divisible'):
    models.minibatch_stddev(_randn(0, (6, 2, 2, 3)), group_size=4)


def test_bad_config_values():
  with pytest.raises(ValueError, match='resolution'):
    models.make_generator(_cfg(12), 'object')
  with pytest.raises(ValueError, match='variant'):
    models.model_config('huge')
  with pytest.raises(ValueError, match='generator'):
    models.make_generator(_cfg(8), 'sky')


@pytest.fixture(scope='module')
def generate_and_grad(tiny):
  """One compiled function for the generate tests: images, scene and the
  gradient of D's score w.r.t. every generator parameter."""
  c, params, d_params, z_o, z_b, vp = tiny

  @jax.jit
  def run(p, rng):
    def score(p):
      images, scene = models.generate(p, z_o, z_b, vp, rng, c, mixing=True)
      return jnp.sum(models.discriminate(d_params, images, c)), (images, scene)
    (_, aux), g = jax.value_and_grad(score, has_aux=True)(p)
    return aux, g

  return run


def test_generate_deterministic_and_finite(tiny, generate_and_grad):
  c, params = tiny[:2]
  (im1, sc1), _ = generate_and_grad(params, jax.random.key(5))
  (im2, _), _ = generate_and_grad(params, jax.random.key(5))
  (im3, _), _ = generate_and_grad(params, jax.random.key(6))
  np.testing.assert_array_equal(im1, im2)
  assert not np.allclose(im1, im3)   # noise, mixing and background crop follow the rng
  assert np.isfinite(im1).all()
  assert float(jnp.linalg.norm(sc1['shape_image'], axis=-1).max()) <= c.model.s_max * (1 + 1e-5)
  assert float(sc1['alpha'].mean()) > 0.05   # the object is drawn
  assert sc1['overflow'].shape == (4,)


def test_gradient_reaches_every_generator_parameter(tiny, generate_and_grad):
  """D's score -> renderer -> shape, texture and background parameters."""
  c, params = tiny[:2]
  _, g = generate_and_grad(params, jax.random.key(7))
  flat = jax.tree_util.tree_flatten_with_path(g)[0]
  for path, leaf in flat:
    assert np.isfinite(leaf).all(), path
    assert float(jnp.linalg.norm(leaf)) > 0, jax.tree_util.keystr(path)
  # Shape vs texture output channels of G_o's last toRGB, and G_b.
  k = c.model.shape_pyramid_levels
  last = g['object']['synthesis'][f'b{2 * c.resolution}_torgb']['conv']['kernel']
  groups = {'shape': last[..., :3 * k], 'texture': last[..., 3 * k:],
            'background': jnp.concatenate([x.ravel() for x in jax.tree_util.tree_leaves(
                g['background'])])}
  for name, gr in groups.items():
    assert float(jnp.linalg.norm(gr)) > 0, name


def _depthwise_reference(x, kernel2d, pad, stride=1, lhs_dilation=(1, 1)):
  c = x.shape[-1]
  k = jnp.tile(jnp.asarray(kernel2d, x.dtype)[:, :, None, None], (1, 1, 1, c))
  return jax.lax.conv_general_dilated(
      x, k, window_strides=(stride, stride), padding=(pad, pad),
      lhs_dilation=lhs_dilation, dimension_numbers=('NHWC', 'HWIO', 'NHWC'),
      feature_group_count=c)


@pytest.mark.parametrize('shape', [(2, 4, 4, 3), (1, 8, 16, 2), (3, 16, 8, 1)])
def test_fir_matches_depthwise_conv(shape):
  """The sliced FIR resampling equals StyleGAN2's upfirdn2d written as a
  depthwise convolution (the straightforward reference), values and grads."""
  x = _randn(3, shape)
  ref_up = lambda x: _depthwise_reference(x, layers._fir_2d(4.0), (2, 2),
                                          lhs_dilation=(2, 2))
  ref_down = lambda x: _depthwise_reference(x, layers._fir_2d(1.0), (1, 1), 2)
  ref_blur = lambda x: _depthwise_reference(x, layers._fir_2d(1.0), (2, 2))
  fast_blur = lambda x: layers._fir_2d_separable(x, 1.0, pad=(2, 2))
  for fast, ref in [(layers.upsample2d, ref_up), (layers.downsample2d, ref_down),
                    (fast_blur, ref_blur)]:
    np.testing.assert_allclose(fast(x), ref(x), rtol=1e-5, atol=1e-6)
    probe = _randn(4, fast(x).shape)
    g_fast = jax.grad(lambda x: jnp.sum(fast(x) * probe))(x)
    g_ref = jax.grad(lambda x: jnp.sum(ref(x) * probe))(x)
    np.testing.assert_allclose(g_fast, g_ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('k,stride,pad', [(3, 1, 1), (3, 2, 0), (1, 1, 0), (1, 2, 0)])
def test_im2col_conv_matches_native(k, stride, pad):
  """The CPU path (im2col matrix product) is the same function as
  lax.conv_general_dilated: values, gradients, and the R1-style second order."""
  x, w = _randn(5, (2, 8, 8, 3)), _randn(6, (k, k, 3, 4))
  native = lambda x, w: layers._conv(x, w, stride, pad, impl='native')
  im2col = lambda x, w: layers._conv(x, w, stride, pad, impl='im2col')
  # Values of size ~5 summed over 27 products: XLA:CPU's native convolution
  # differs from the exact sum by up to ~3e-4 on some CPUs (seen 2026-11-27
  # on a fresh machine of this project's kind), so 1e-5 was too tight.
  np.testing.assert_allclose(im2col(x, w), native(x, w), rtol=1e-4, atol=1e-3)

  def r1(f):   # gradient w.r.t. w of |d sum(f) / dx|^2, as in the R1 penalty
    gx = lambda w: jax.grad(lambda x: jnp.sum(jnp.sin(f(x, w))))(x)
    return jax.grad(lambda w: jnp.sum(gx(w) ** 2))(w)

  for order_fn in [lambda f: jax.grad(lambda x, w: jnp.sum(jnp.sin(f(x, w))),
                                      argnums=(0, 1))(x, w), r1]:
    for a, b in zip(jax.tree_util.tree_leaves(order_fn(im2col)),
                    jax.tree_util.tree_leaves(order_fn(native))):
      # atol relative to the array's scale (the R1 terms reach ~200).
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * float(np.abs(b).max()))


def test_conv_impl_auto_and_bad_value():
  assert layers.resolve_conv_impl('auto') in ('im2col', 'native')
  assert layers.resolve_conv_impl('native') == 'native'
  with pytest.raises(ValueError, match='conv_impl'):
    layers.resolve_conv_impl('cudnn')


def test_texture_offset_shifts_only_the_texture():
  """model.texture_offset adds a constant to the texture (the albedo) of the
  scene and changes nothing else."""
  from gan3d.models import generator  # pylint: disable=g-import-not-at-top
  n, levels = 8, 4
  raw = {'object': _randn(1, (2, 2 * n, 2 * n, 3 * levels + 3)),
         'background': _randn(2, (2, 2 * n, 2 * n, 3))}
  base = generator.build_scene(raw, jax.random.key(0), _cfg(n))
  shifted = generator.build_scene(raw, jax.random.key(0), _cfg(n, texture_offset=-0.25))
  np.testing.assert_allclose(shifted['texture'], base['texture'] - 0.25, atol=1e-6)
  for k in ('shape_image', 'vertices', 'background'):
    np.testing.assert_array_equal(shifted[k], base[k])


@pytest.mark.parametrize('ss', [2, 3])
def test_supersampled_render_is_the_block_mean_of_a_finer_render(ss):
  """render.supersample S: images and alpha are the S x S block means of a
  render at n S (the reference: render_mesh called directly, the background
  repeated); mask, depth and normals are those of the n x n render, and are
  left out without geometry_maps; S = 1 gives what it always gave."""
  from gan3d import render  # pylint: disable=g-import-not-at-top
  from gan3d.models import generator  # pylint: disable=g-import-not-at-top
  n, levels = 8, 4
  raw = {'object': 0.3 * _randn(1, (2, 2 * n, 2 * n, 3 * levels + 3)),
         'background': _randn(2, (2, 2 * n, 2 * n, 3))}
  c1 = _cfg(n)
  c1.render.window = 6
  cs = _cfg(n)
  cs.render.window = 6 * ss
  cs.render.supersample = ss
  scene = generator.build_scene(raw, jax.random.key(0), c1)
  vp = jnp.asarray([[0.3, -0.1], [-0.5, 0.2]], jnp.float32)
  img1, sc1 = generator.render_scene(scene, vp, c1)
  imgs, scs = generator.render_scene(scene, vp, cs)
  assert imgs.shape == img1.shape == (2, n, n, 3)
  kw = c1.render.to_dict()
  kw.pop('supersample')
  kw.update(window=6 * ss)
  fine = render.RenderSettings(height=n * ss, width=n * ss, **kw)
  for i in range(2):
    bg = jnp.repeat(jnp.repeat(scene['background'][i], ss, 0), ss, 1)
    out = render.render_mesh(scene['vertices'][i], scene['faces'], settings=fine,
                             uv=scene['uv'], texture=scene['texture'][i],
                             background=bg, viewpoint=vp[i])
    want = out.image.reshape(n, ss, n, ss, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(imgs[i], want, atol=1e-6)
    np.testing.assert_allclose(scs['alpha'][i], out.alpha.reshape(n, ss, n, ss).mean(
        axis=(1, 3)), atol=1e-6)
  assert int(jnp.max(sc1['overflow'])) == 0 and int(jnp.max(scs['overflow'])) == 0
  for k in ('mask', 'depth', 'normals'):
    np.testing.assert_array_equal(scs[k], sc1[k])
  # The finer render differs from the coarse one (edges are averaged).
  assert float(jnp.max(jnp.abs(imgs - img1))) > 1e-3
  _, no_maps = generator.render_scene(scene, vp, cs, geometry_maps=False)
  assert not {'mask', 'depth', 'normals'} & set(no_maps)
  _, maps1 = generator.render_scene(scene, vp, c1, geometry_maps=False)
  assert {'mask', 'depth', 'normals'} <= set(maps1)
