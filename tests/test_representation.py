"""Tests of gan3d.representation: eq 13 pyramid, eq 14 size constraint, base
surfaces, the object-output split and the background crop."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from jax.test_util import check_grads

from gan3d import representation as rep


def _randn(seed, shape, dtype=np.float32):
  return jnp.asarray(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


def _cfg(**kw):
  c = ml_collections.ConfigDict(dict(shape_pyramid_levels=1, shape_param='raw',
                                     shape_output_scale=1.0, base_radius=1.0,
                                     base_height=1.0, base_zero_radius=1.0,
                                     base_wrap_deg=120.0,
                                     size_constraint=False, s_max=1.3))
  c.update(kw)
  return c


@pytest.mark.parametrize('n', [4, 9, 16])
@pytest.mark.parametrize('sigma', [0.5, 2.0, 8.0, 40.0])
def test_blur_matrix_rows_sum_to_one(n, sigma):
  m = rep.gaussian_blur_matrix(n, sigma)
  assert m.shape == (n, n)
  np.testing.assert_allclose(m.sum(1), 1.0, rtol=1e-5)
  assert (m >= 0).all()


@pytest.mark.parametrize('levels', [1, 2, 3, 4])
def test_pyramid_of_constant_is_constant_times_weights(levels):
  c = jnp.array([0.3, -1.2, 2.0])
  x = jnp.tile(c, (2, 16, 16, levels))
  out = rep.shape_pyramid(x, levels)
  expected = c * rep.pyramid_weights(levels).sum()
  assert out.shape == (2, 16, 16, 3)
  np.testing.assert_allclose(out, np.broadcast_to(expected, out.shape), rtol=1e-5, atol=1e-6)


def test_pyramid_k1_is_identity_and_blurs_higher_levels():
  x = _randn(0, (2, 16, 16, 3))
  np.testing.assert_array_equal(rep.shape_pyramid(x, 1), x)
  # Level 1 contributes a blurred (smoother) copy weighted by 1/2.
  x2 = jnp.concatenate([jnp.zeros_like(x), x], -1)
  out = rep.shape_pyramid(x2, 2)
  assert float(jnp.abs(out).max()) < 0.5 * float(jnp.abs(x).max())
  tv = lambda a: float(jnp.abs(jnp.diff(a, axis=1)).mean())
  assert tv(out) < 0.5 * 0.5 * tv(x)


def test_pyramid_bad_channels():
  with pytest.raises(ValueError, match='3\\*K'):
    rep.shape_pyramid(jnp.zeros((1, 8, 8, 6)), 3)


def test_size_constraint_bounded_and_matches_formula():
  s = _randn(1, (4, 8, 8, 3)) * jnp.array([1e-4, 1.0, 1e6])[:, None, None, None][
      jnp.array([0, 1, 2, 1])]
  out = rep.size_constraint(s, 1.3)
  norms = jnp.linalg.norm(out, axis=-1)
  assert float(norms.max()) <= 1.3 * (1 + 1e-6)
  r = jnp.linalg.norm(s, axis=-1, keepdims=True)
  np.testing.assert_allclose(out, s * jnp.tanh(r) / r * 1.3, rtol=1e-5, atol=1e-12)
  # Direction is preserved.
  np.testing.assert_allclose(jnp.sum(out * s, -1), norms * r[..., 0], rtol=1e-4)


def test_size_constraint_safe_at_zero():
  zero = jnp.zeros((3,))
  np.testing.assert_array_equal(rep.size_constraint(zero, 1.3), zero)
  jac, hess = jax.jit(lambda s: (jax.jacfwd(lambda x: rep.size_constraint(x, 1.3))(s),
                                 jax.hessian(lambda x: jnp.sum(rep.size_constraint(x, 1.3)))(s)))(zero)
  np.testing.assert_allclose(jac, 1.3 * np.eye(3), atol=1e-6)
  assert np.isfinite(hess).all()


@pytest.mark.parametrize('scale', [0.0, 0.3, 3.0])
def test_size_constraint_check_grads_float64(scale):
  with jax.enable_x64(True):
    s = _randn(2, (5, 3), np.float64) * scale
    s = s + (1e-3 if scale == 0 else 0.0)  # just off the origin for finite differences
    check_grads(lambda x: rep.size_constraint(x, 1.3), (s,), order=2, modes=['rev'],
                eps=1e-5, atol=1e-6, rtol=1e-6)


def test_tanh_ratio_continuous_at_switch():
  with jax.enable_x64(True):
    eps = 1e-4
    lo = rep.tanh_ratio_of_sq(jnp.float64(eps * (1 - 1e-9)))
    hi = rep.tanh_ratio_of_sq(jnp.float64(eps * (1 + 1e-9)))
    assert abs(float(lo - hi)) < 1e-12


def test_base_surfaces():
  n = 16
  disc = rep.base_surface(n, 'disc')
  hemi = rep.base_surface(n, 'hemisphere', 0.8)
  assert disc.shape == hemi.shape == (n, n, 3)
  np.testing.assert_array_equal(disc[..., 2], 0)
  # y up: row 0 is the top; x right: column 0 is the left.
  assert disc[0, 0, 1] > 0 and disc[-1, 0, 1] < 0 and disc[0, 0, 0] < 0
  inside = np.linalg.norm(hemi[..., :2], axis=-1) < 0.8
  np.testing.assert_allclose(np.linalg.norm(hemi[inside], axis=-1), 0.8, rtol=1e-5)
  assert (hemi[..., 2] >= 0).all()
  np.testing.assert_array_equal(rep.base_surface(n, 'raw'), 0)
  with pytest.raises(ValueError, match='base surface'):
    rep.base_surface(n, 'cube')


@pytest.mark.parametrize('param', [p for p in rep.SHAPE_PARAMS if p != 'offset_template'])
@pytest.mark.parametrize('constrain', [False, True])
def test_build_shape_image(param, constrain):
  raw = jnp.zeros((2, 8, 8, 6))
  s = rep.build_shape_image(raw, _cfg(shape_pyramid_levels=2, shape_param=param,
                                      size_constraint=constrain))
  assert s.shape == (2, 8, 8, 3)
  base = rep.base_surface(8, param.replace('offset_', ''))
  if constrain:
    base = rep.size_constraint(jnp.asarray(base), 1.3)
  np.testing.assert_allclose(s, np.broadcast_to(base, s.shape), atol=1e-6)
  # The network output moves the vertices (offset / raw coordinates).
  s2 = rep.build_shape_image(raw + 0.1, _cfg(shape_pyramid_levels=2, shape_param=param,
                                             size_constraint=constrain))
  assert float(jnp.abs(s2 - s).min()) > 1e-3


def test_paraboloid_base():
  n = 16
  b = rep.base_surface(n, 'paraboloid', 1.0, 0.5, 0.8)
  r2 = b[..., 0] ** 2 + b[..., 1] ** 2
  np.testing.assert_allclose(b[..., 2], 0.5 * (1 - r2 / 0.64), rtol=1e-5, atol=1e-6)
  assert b[..., 2].max() < 0.5 and b[..., 2].max() > 0.49       # centre height
  assert b[..., 2].min() < -0.3                                  # falls back behind z = 0
  np.testing.assert_allclose(b[..., :2], rep.base_surface(n, 'disc')[..., :2])
  with pytest.raises(ValueError, match='zero_radius'):
    rep.base_surface(n, 'paraboloid', 1.0, 0.5, 0.0)


@pytest.mark.parametrize('n', [16, 9])
@pytest.mark.parametrize('radius,wrap', [(1.0, 120.0), (0.8, 90.0), (0.8, 150.0)])
def test_sphere_base(radius, wrap, n):
  """'sphere': every pixel lies on the ball of the radius; the polar angle
  from +z is the grid radius times wrap_deg (capped at 180); the azimuth is
  the grid's; the result is mirror-symmetric in x. An odd n has a pixel at
  the grid's centre: it is the ball's front pole."""
  b = rep.base_surface(n, 'sphere', radius, wrap_deg=wrap).astype(np.float64)
  np.testing.assert_allclose(np.linalg.norm(b, axis=-1), radius, rtol=1e-5)
  g = (np.arange(n) + 0.5) / n * 2 - 1
  u, v = np.meshgrid(g, -g)
  rho = np.hypot(u, v)
  theta = np.arccos(np.clip(b[..., 2] / radius, -1, 1))
  np.testing.assert_allclose(theta, np.minimum(rho * np.deg2rad(wrap), np.pi), atol=1e-3)
  inner = rho * wrap < 179.0
  np.testing.assert_allclose(np.arctan2(b[..., 1], b[..., 0])[inner],
                             np.arctan2(v, u)[inner], atol=1e-4)
  np.testing.assert_allclose(b[:, ::-1, 0], -b[..., 0], atol=1e-6)
  np.testing.assert_allclose(b[:, ::-1, 1:], b[..., 1:], atol=1e-6)
  disc = rho <= 1.0
  # the rim of the mesh's disc reaches about wrap degrees from the pole
  assert np.degrees(theta[disc].max()) == pytest.approx(min(wrap * rho[disc].max(), 180), abs=0.5)
  if n % 2:
    np.testing.assert_allclose(b[n // 2, n // 2], [0.0, 0.0, radius], atol=1e-7)
  with pytest.raises(ValueError, match='wrap_deg'):
    rep.base_surface(n, 'sphere', 1.0, wrap_deg=0.0)


def test_sphere_base_through_build_shape_image():
  """shape_param='offset_sphere' with a zero network output is the base of
  model.base_radius and model.base_wrap_deg."""
  n = 8
  cfg = _cfg(shape_pyramid_levels=1, shape_param='offset_sphere', base_radius=0.8,
             base_wrap_deg=100.0)
  s = rep.build_shape_image(jnp.zeros((1, n, n, 3)), cfg)
  np.testing.assert_allclose(s[0], rep.base_surface(n, 'sphere', 0.8, wrap_deg=100.0), atol=1e-6)


def test_offset_template(tmp_path):
  """'offset_template' adds the network's offsets to the shape image in
  model.base_template; a missing, misshapen or non-finite file is an error
  naming the key."""
  n = 8
  t = rep.base_surface(n, 'paraboloid', 0.9, 0.4, 0.7) + np.float32(0.01)
  path = str(tmp_path / 't.npy')
  np.save(path, t)
  cfg = _cfg(shape_pyramid_levels=2, shape_param='offset_template', base_template=path)
  raw = jnp.zeros((2, n, n, 6))
  np.testing.assert_allclose(rep.build_shape_image(raw, cfg), np.broadcast_to(t, (2, n, n, 3)),
                             atol=1e-6)
  s2 = rep.build_shape_image(raw + 0.1, cfg)
  assert float(jnp.abs(s2 - t).min()) > 1e-3
  for bad, match in ((str(tmp_path / 'none.npy'), 'no such file'),
                     ('', 'must name'),):
    with pytest.raises(ValueError, match=f'base_template.*{match}'):
      rep.build_shape_image(raw, _cfg(shape_pyramid_levels=2, shape_param='offset_template',
                                      base_template=bad))
  for name, arr, match in (('small.npy', t[:4], r'shape \(4, 8, 3\)'),
                           ('nan.npy', np.full_like(t, np.nan), 'NaN')):
    p = str(tmp_path / name)
    np.save(p, arr)
    with pytest.raises(ValueError, match=match):
      rep.load_template(p, n)


def test_build_shape_image_bad_param():
  with pytest.raises(ValueError, match='shape_param'):
    rep.build_shape_image(jnp.zeros((1, 8, 8, 3)), _cfg(shape_param='sphere'))


def test_split_object_output():
  x = _randn(3, (2, 16, 16, 3 * 4 + 3))
  shape, tex = rep.split_object_output(x, 4)
  assert shape.shape == (2, 8, 8, 12) and tex.shape == (2, 16, 16, 3)
  np.testing.assert_allclose(shape[0, 1, 2], x[0, 2:4, 4:6, :12].mean((0, 1)), rtol=1e-5)
  np.testing.assert_array_equal(tex, x[..., 12:])
  with pytest.raises(ValueError, match='3\\*K \\+ 3'):
    rep.split_object_output(x, 3)


def test_crop_background():
  n = 8
  b = jnp.arange(6 * 16 * 16 * 1, dtype=jnp.float32).reshape(6, 16, 16, 1)
  crop = rep.crop_background(b, n, jax.random.key(4))
  assert crop.shape == (6, n, n, 1)
  offsets = set()
  for i in range(6):
    v = int(crop[i, 0, 0, 0]) - i * 256
    oy, ox = divmod(v, 16)
    assert 0 <= oy <= n and 0 <= ox <= n
    np.testing.assert_array_equal(crop[i], b[i, oy:oy + n, ox:ox + n])
    offsets.add((oy, ox))
  assert len(offsets) > 1  # drawn per sample
  np.testing.assert_array_equal(crop, rep.crop_background(b, n, jax.random.key(4)))
  assert not np.array_equal(crop, rep.crop_background(b, n, jax.random.key(5)))


@pytest.mark.parametrize('param', ['raw', 'offset_hemisphere'])
@pytest.mark.parametrize('size', [False, True])
def test_shape_symmetry_mirrors_x(param, size):
  raw = _randn(7, (2, 8, 8, 6))
  cfg = _cfg(shape_pyramid_levels=2, shape_param=param, size_constraint=size,
             shape_symmetry=True)
  s = np.asarray(rep.build_shape_image(raw, cfg))
  mirrored = s[:, :, ::-1, :] * np.array([-1.0, 1.0, 1.0])
  np.testing.assert_allclose(s, mirrored, rtol=1e-5, atol=1e-6)
  # Off (the default): not symmetric for random input; on: the symmetric
  # part of the pyramid output, so a symmetric input passes unchanged.
  plain = np.asarray(rep.build_shape_image(raw, _cfg(shape_pyramid_levels=2, shape_param=param,
                                                     size_constraint=size)))
  assert not np.allclose(plain, plain[:, :, ::-1, :] * np.array([-1.0, 1.0, 1.0]), atol=1e-3)
  sym_raw = rep.mirror_symmetrize(raw[..., :3]), rep.mirror_symmetrize(raw[..., 3:])
  sym_raw = jnp.concatenate(sym_raw, -1)
  np.testing.assert_allclose(
      rep.build_shape_image(sym_raw, cfg),
      rep.build_shape_image(sym_raw, _cfg(shape_pyramid_levels=2, shape_param=param,
                                          size_constraint=size)), rtol=1e-5, atol=1e-6)
