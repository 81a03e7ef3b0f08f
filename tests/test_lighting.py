"""The light prior and Lambertian texture shading (gan3d.models.lighting)."""
import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from configs import common
from configs import synthetic
from gan3d import config_checks
from gan3d import models
from gan3d.models import lighting
from gan3d.render import camera
from gan3d.render import topology

N = 8
D = 4.0
# Compiled once per shape (eager dispatch of these small graphs is slower).
_factor = jax.jit(lighting.shading_factor, static_argnums=4)
_shade = jax.jit(lighting.shade_textures, static_argnums=5)


def _bumpy(n=N, seed=0):
  """A hemisphere with random bumps: shape image [n, n, 3] (float64)."""
  s = topology.grid_disc(n, 0.9).astype(np.float64)
  r2 = s[..., 0] ** 2 + s[..., 1] ** 2
  rng = np.random.default_rng(seed)
  s[..., 2] = np.sqrt(np.maximum(0.81 - r2, 0.0)) + 0.05 * rng.normal(size=(n, n))
  return s


def _reference_factor(shape_image, viewpoint, light):
  """Straight from the equations with numpy loops: area-weighted vertex
  normals, bilinear at texel t's grid coordinate (t - 0.5) / 2 (clamped),
  normalised, rotated to the camera, flipped to face it, Lambert."""
  n = shape_image.shape[0]
  verts = shape_image.reshape(-1, 3)
  faces = topology.grid_faces(n)
  acc = np.zeros_like(verts)
  for f in faces:
    a, b, c = verts[f]
    acc[f] += np.cross(b - a, c - a)
  norm = np.linalg.norm(acc, axis=-1, keepdims=True)
  vn = np.where(norm > 0, acc / np.where(norm > 0, norm, 1), 0.0).reshape(n, n, 3)
  rot = np.asarray(camera.rotation_matrix(jnp.asarray(viewpoint, jnp.float64)))
  out = np.zeros((2 * n, 2 * n))
  for ti in range(2 * n):
    for tj in range(2 * n):
      y = min(max((ti - 0.5) / 2, 0.0), n - 1)
      x = min(max((tj - 0.5) / 2, 0.0), n - 1)
      y0, x0 = min(int(math.floor(y)), n - 2), min(int(math.floor(x)), n - 2)
      fy, fx = y - y0, x - x0

      def lerp(g):
        return ((1 - fy) * ((1 - fx) * g[y0, x0] + fx * g[y0, x0 + 1])
                + fy * ((1 - fx) * g[y0 + 1, x0] + fx * g[y0 + 1, x0 + 1]))
      nrm = rot @ lerp(vn)
      length = np.linalg.norm(nrm)
      nrm = nrm / length if length > 0 else nrm
      p = rot @ lerp(shape_image)
      if np.dot(nrm, p - np.array([0.0, 0.0, D])) > 0:
        nrm = -nrm
      out[ti, tj] = light[3] + (1 - light[3]) * max(np.dot(nrm, light[:3]), 0.0)
  return out


@pytest.mark.parametrize('viewpoint,light', [
    ((0.0, 0.0), (0.0, 0.0, 1.0, 0.4)),
    ((0.5, -0.2), (0.3, -0.2, math.sqrt(1 - 0.13), 0.35)),
    ((-0.7, 0.25), (-0.5, 0.1, math.sqrt(1 - 0.26), 0.6)),
    ((3.0, 0.0), (0.0, 0.0, 1.0, 0.5)),     # seen from behind: two-sided
])
def test_shading_matches_reference(viewpoint, light):
  with jax.enable_x64(True):
    s = _bumpy()
    got = lighting.shading_factor(jnp.asarray(s.reshape(-1, 3)),
                                  jnp.asarray(topology.grid_faces(N)),
                                  jnp.asarray(viewpoint, jnp.float64),
                                  jnp.asarray(light, jnp.float64), D)
    want = _reference_factor(s, np.asarray(viewpoint), np.asarray(light))
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-9)


def _covered(n=N):
  """[2n, 2n] bool: texels whose bilinear footprint holds mesh vertices only
  (vertices outside the disc faces have no normal)."""
  used = np.zeros(n * n)
  used[topology.grid_faces(n).ravel()] = 1.0
  up = jax.image.resize(jnp.asarray(used.reshape(n, n, 1)), (2 * n, 2 * n, 1), 'linear')
  return np.asarray(up[..., 0]) > 1 - 1e-6


def test_flat_disc_facing_the_light_is_fully_lit():
  s = topology.grid_disc(N, 0.9)
  v = jnp.asarray(s.reshape(-1, 3))
  f = jnp.asarray(topology.grid_faces(N))
  lit = _factor(v, f, jnp.zeros(2), jnp.array([0., 0., 1., .3]), D)
  inside = _covered()
  assert inside.sum() > N * N
  np.testing.assert_allclose(np.asarray(lit)[inside], 1.0, atol=1e-6)
  # Light at 60 degrees from the normal: a + (1 - a) cos 60.
  l60 = jnp.array([math.sin(math.pi / 3), 0.0, math.cos(math.pi / 3), 0.3])
  np.testing.assert_allclose(
      np.asarray(_factor(v, f, jnp.zeros(2), l60, D))[inside],
      0.3 + 0.7 * 0.5, atol=1e-6)


def test_light_turned_with_the_object_gives_the_same_shading():
  """Frame conventions: turning the light with the object (l_cam = R l_obj)
  gives the shading of the unturned object under l_obj (a flat disc, so
  that the two-sided flip is the same in both)."""
  s = topology.grid_disc(N, 0.9)
  v = jnp.asarray(s.reshape(-1, 3))
  f = jnp.asarray(topology.grid_faces(N))
  l_obj = jnp.array([0.3, 0.4, math.sqrt(0.75)])
  vp = jnp.array([0.6, -0.3])
  l_cam = camera.rotation_matrix(vp) @ l_obj
  a = _factor(v, f, jnp.zeros(2), jnp.append(l_obj, 0.2), D)
  b = _factor(v, f, vp, jnp.append(l_cam, 0.2), D)
  np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


def test_sample_lights_follow_the_prior():
  cfg = common.light_config('camera', spread_deg=30.0, ambient=(0.2, 0.5))
  lights = np.asarray(lighting.sample_lights(jax.random.PRNGKey(0), 4096, cfg))
  assert lights.shape == (4096, 4)
  np.testing.assert_allclose(np.linalg.norm(lights[:, :3], axis=-1), 1.0, atol=1e-5)
  angle = np.degrees(np.arccos(np.clip(lights[:, 2], -1, 1)))
  assert angle.max() <= 30.0 + 1e-3 and angle.max() > 29.0
  # Uniform over the projected disc: half the lights within 30 / sqrt(2).
  assert abs(np.mean(angle < 30.0 / math.sqrt(2)) - 0.5) < 0.03
  assert lights[:, 3].min() >= 0.2 and lights[:, 3].max() <= 0.5
  again = np.asarray(lighting.sample_lights(jax.random.PRNGKey(0), 4096, cfg))
  np.testing.assert_array_equal(lights, again)
  front = np.asarray(lighting.frontal_lights(3, cfg))
  np.testing.assert_allclose(front, [[0, 0, 1, 0.35]] * 3, atol=1e-7)
  # tilt_deg turns the cone's centre up (+y): the same lights, turned.
  tilted = np.asarray(lighting.sample_lights(
      jax.random.PRNGKey(0), 4096, common.light_config('camera', 30.0, (0.2, 0.5), tilt_deg=50.0)))
  centre = np.array([0.0, math.sin(math.radians(50)), math.cos(math.radians(50))])
  angle_t = np.degrees(np.arccos(np.clip(tilted[:, :3] @ centre, -1, 1)))
  np.testing.assert_allclose(angle_t, angle, atol=1e-2)
  assert tilted[:, 1].mean() > 0.6 and abs(tilted[:, 0].mean()) < 0.02


def test_gradients_finite_at_degenerate_shapes():
  f = jnp.asarray(topology.grid_faces(N))
  light = jnp.array([0.2, 0.1, math.sqrt(0.95), 0.4])

  @jax.jit
  @jax.value_and_grad
  def loss(v):
    return jnp.sum(lighting.shading_factor(v, f, jnp.array([0.3, 0.1]), light, D) ** 2)
  for v in (jnp.zeros((N * N, 3)),                                   # collapsed
            jnp.asarray(topology.grid_disc(N, 0.9).reshape(-1, 3)) * jnp.array([1., 0., 1.]),
            jnp.asarray(_bumpy().reshape(-1, 3), jnp.float32)):
    val, g = loss(v)
    assert np.isfinite(float(val)) and np.all(np.isfinite(np.asarray(g)))
  # A real relief gets a non-zero shape gradient (the point of lighting).
  _, g = loss(jnp.asarray(_bumpy().reshape(-1, 3), jnp.float32))
  assert float(jnp.abs(g).max()) > 1e-3


def test_shade_textures_range_and_identity_at_full_light():
  f = jnp.asarray(topology.grid_faces(N))
  v = jnp.asarray(topology.grid_disc(N, 0.9).reshape(1, -1, 3))
  tex = jax.random.uniform(jax.random.PRNGKey(1), (1, 2 * N, 2 * N, 3), minval=-1, maxval=1)
  full = _shade(tex, v, f, jnp.zeros((1, 2)), jnp.array([[0., 0., 1., .3]]), D)
  inside = _covered()
  np.testing.assert_allclose(np.asarray(full)[0][inside], np.asarray(tex)[0][inside], atol=1e-5)
  dark = _shade(tex, v, f, jnp.zeros((1, 2)), jnp.array([[1., 0., 0., .3]]), D)
  # Light at 90 degrees: ambient only, (tex + 1) 0.3 - 1.
  np.testing.assert_allclose(np.asarray(dark), np.asarray((tex + 1) * 0.3 - 1), atol=1e-5)


def test_render_scene_with_and_without_light():
  c = synthetic.get_config('tiny')
  n = int(c.resolution)
  s = topology.grid_disc(n, 0.8)
  s[..., 2] = 0.3
  scene = dict(shape_image=jnp.asarray(s[None]), vertices=jnp.asarray(s.reshape(1, -1, 3)),
               faces=jnp.asarray(topology.grid_faces(n)),
               uv=jnp.asarray(topology.grid_uv(n)),
               texture=jnp.full((1, 2 * n, 2 * n, 3), 0.6),
               background=jnp.full((1, n, n, 3), -1.0))
  vp = jnp.zeros((1, 2))

  @jax.jit
  def both(scene, light):
    plain, out = models.render_scene(scene, vp, c)
    lit, _ = models.render_scene(scene, vp, c, light)
    return plain, out, lit
  plain, out, lit = both(scene, jnp.array([[1.0, 0.0, 0.0, 0.5]]))
  inside = np.asarray(out['mask'][0]) > 0
  # Ambient only: (0.6 + 1) 0.5 - 1 = -0.2 on the face; background untouched.
  np.testing.assert_allclose(np.asarray(plain[0])[inside], 0.6, atol=1e-5)
  np.testing.assert_allclose(np.asarray(lit[0])[inside], -0.2, atol=1e-5)
  far = np.asarray(out['alpha'][0]) == 0
  np.testing.assert_array_equal(np.asarray(lit[0])[far], np.asarray(plain[0])[far])


@pytest.mark.parametrize('key,value,message', [
    ('model', 'sun', 'light.model'),
    ('spread_deg', 120.0, 'light.spread_deg'),
    ('ambient', (0.7, 0.2), 'light.ambient'),
    ('ambient', (0.1, 1.5), 'light.ambient'),
    ('tilt_deg', 95.0, 'light.tilt_deg'),
])
def test_config_checks_reject_bad_lights(key, value, message):
  c = synthetic.get_config()
  c.light[key] = value
  with pytest.raises(config_checks.ConfigError, match=message):
    config_checks.validate(c, num_devices=1)


def test_light_model_default_and_error():
  assert lighting.light_model(ml_collections.ConfigDict()) == 'none'
  assert lighting.light_model(synthetic.get_config()) == 'none'
  # The config-level helpers: None when off, the prior's lights when on.
  off = synthetic.get_config()
  assert lighting.prior_lights(jax.random.PRNGKey(0), 2, off) is None
  assert lighting.figure_lights(2, off) is None
  on = synthetic.get_config()
  on.light.model = 'camera'
  np.testing.assert_array_equal(
      np.asarray(lighting.prior_lights(jax.random.PRNGKey(0), 2, on)),
      np.asarray(lighting.sample_lights(jax.random.PRNGKey(0), 2, on.light)))
  np.testing.assert_array_equal(np.asarray(lighting.figure_lights(2, on)),
                                np.asarray(lighting.frontal_lights(2, on.light)))
  bad = ml_collections.ConfigDict({'light': {'model': 'sun'}})
  with pytest.raises(ValueError, match='light.model'):
    lighting.light_model(bad)


@pytest.mark.parametrize('yaw,pitch,tilt', [(25.0, -10.0, 45.0), (-30.0, 12.0, -40.0)])
def test_generator_shading_equals_the_data_sets(yaw, pitch, tilt):
  """End to end: a synthetic face rendered with a white texture shaded by
  `shade_textures` (the lit generator's path) looks like the data set's
  shading of the same mesh (`faces.lambert` of the renderer's per-pixel
  normals), for tilted lights from above and below: same brightness
  pattern, same sign of the top-bottom difference."""
  from gan3d import render                      # pylint: disable=g-import-not-at-top
  from gan3d.data import faces                  # pylint: disable=g-import-not-at-top
  m, size, dist, amb = 16, 32, 4.0, 0.3
  params = faces.sample_face_params(jax.random.key(3), faces.DEFAULT_RANGES)
  verts = faces.face_vertices(params, m, 0.85, 0.98)
  tri = topology.grid_faces(m)
  settings = render.RenderSettings(height=size, width=size, soft=False, window=8,
                                   camera_distance=dist)
  vp = jnp.deg2rad(jnp.array([yaw, pitch], jnp.float32))
  t = math.radians(tilt)
  light = jnp.array([0.0, math.sin(t), math.cos(t)], jnp.float32)
  ref = render.render_mesh(verts, tri, settings=settings, attributes=jnp.ones((m * m, 1)),
                           viewpoint=vp)
  data = np.asarray(faces.lambert(ref.normals, light, amb))
  shaded = lighting.shade_textures(jnp.ones((1, 2 * m, 2 * m, 3)), verts[None], jnp.asarray(tri),
                                   vp[None], jnp.append(light, amb)[None], dist)[0]
  gen = np.asarray(render.render_mesh(verts, tri, settings=settings, uv=topology.grid_uv(m),
                                      texture=(shaded + 1.0) / 2.0, viewpoint=vp).image[..., 0])
  mask = np.asarray(ref.mask) > 0
  assert mask.mean() > 0.3
  assert np.corrcoef(data[mask], gen[mask])[0, 1] > 0.98
  assert np.abs(data[mask] - gen[mask]).mean() < 0.02
  h = size // 2
  top_minus_bottom = lambda img: img[:h][mask[:h]].mean() - img[h:][mask[h:]].mean()
  assert abs(top_minus_bottom(data)) > 0.1
  assert np.sign(top_minus_bottom(gen)) == np.sign(top_minus_bottom(data))


def test_leak_keeps_lambert_where_lit_and_a_gradient_in_shadow():
  """light.leak L: the same factor where n . l > 0; where n . l < 0 the
  factor a + (1 - a) L n . l (not the ambient a) and a non-zero gradient
  to the shape, which plain Lambert (L = 0) does not give there."""
  s = _bumpy().reshape(-1, 3)
  f = jnp.asarray(topology.grid_faces(N))
  with jax.enable_x64(True):
    light = jnp.array([0.0, math.sin(1.2), math.cos(1.2), 0.4])   # far up: part in shadow
    vp = jnp.zeros(2)
    v = jnp.asarray(s)
    lam = np.asarray(lighting.shading_factor(v, f, vp, light, D))
    leaky = np.asarray(lighting.shading_factor(v, f, vp, light, D, leak=0.3))
    inside = _covered()
    lit, dark = inside & (lam > 0.4 + 1e-9), inside & (lam <= 0.4 + 1e-12)
    assert lit.sum() > 10 and dark.sum() > 10
    np.testing.assert_allclose(leaky[lit], lam[lit], atol=1e-12)
    assert np.all(leaky[dark] <= 0.4 + 1e-12) and np.any(leaky[dark] < 0.39)
    assert np.all(leaky >= 0.0)
    w = jnp.asarray(dark, jnp.float64)

    def shadow_sum(v, leak):
      return jnp.sum(w * lighting.shading_factor(v, f, vp, light, D, leak=leak))
    g0 = np.asarray(jax.grad(shadow_sum)(v, 0.0))
    g1 = np.asarray(jax.grad(shadow_sum)(v, 0.3))
  assert np.abs(g0).max() == 0.0 and np.abs(g1).max() > 1e-3


def test_leak_is_checked_and_reaches_the_generator():
  c = synthetic.get_config('tiny')
  assert c.light.leak == 0.0
  c.light.leak = 1.5
  with pytest.raises(config_checks.ConfigError, match=r'config\.light\.leak=1\.5'):
    config_checks.validate(c, num_devices=1)


def test_bounded_albedo_is_tanh_of_the_texture():
  """light.bounded_albedo: albedo tanh(texture); a texture far above white
  gives at most the brightness of a white albedo."""
  s = jnp.asarray(_bumpy().reshape(-1, 3), jnp.float32)[None]
  f = jnp.asarray(topology.grid_faces(N))
  tex = jnp.asarray(np.random.default_rng(0).normal(0, 2, (1, 2 * N, 2 * N, 3)), jnp.float32)
  args = (s, f, jnp.zeros((1, 2)), jnp.array([[0.3, 0.2, math.sqrt(0.87), 0.4]]), D)
  got = lighting.shade_textures(tex, *args, bounded_albedo=True)
  np.testing.assert_allclose(np.asarray(got),
                             np.asarray(lighting.shade_textures(jnp.tanh(tex), *args)), atol=1e-6)
  white = lighting.shade_textures(jnp.ones_like(tex), *args)
  assert float(jnp.max(got - white)) <= 1e-6
  assert float(jnp.max(lighting.shade_textures(tex, *args) - white)) > 0.5   # unbounded
  assert not common.light_config().bounded_albedo
