"""Camera conventions, symmetries and JAX transformations of `gan3d.render`.

Conventions are those of docs/interfaces.md: R = R_x(pitch) @ R_y(yaw) with
the standard right-handed rotation matrices, depth = D - z, the unit ball fits
the image, pixel centres at (j + 0.5, i + 0.5), x right and y down on screen.
"""
import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reference_renderer as ref


H = W = 16
D = 4.0


def _settings(**kw):
  from gan3d import render
  base = dict(height=H, width=W, soft=True, soft_width=1.0, window=H + 6,
              camera_distance=D)
  base.update(kw)
  return render.RenderSettings(**base)


@functools.lru_cache(maxsize=None)
def _jit_render(settings):
  from gan3d import render
  return jax.jit(functools.partial(render.render_mesh, settings=settings))


def _scene(seed=0):
  sc = ref.random_scene(seed)
  sc['background'] = sc['background_fn'](H, W)
  return sc


# ----------------------------------------------------------------------------
# Camera.
# ----------------------------------------------------------------------------

@pytest.mark.parametrize('vp', [(0.3, 0.0), (0.0, 0.4), (0.7, -0.5),
                                (-2.0, 1.1)])
def test_rotation_matrix_is_rx_pitch_times_ry_yaw(vp):
  """docs/interfaces.md: R = R_x(pitch) @ R_y(yaw), standard matrices."""
  from gan3d import render
  with jax.enable_x64(True):
    got = np.asarray(render.camera.rotation_matrix(jnp.asarray(vp)))
  np.testing.assert_allclose(got, ref.rotation_matrix(vp), atol=1e-12)


def test_rotation_directions_match_the_docstring():
  """camera.rotation_matrix's docstring: positive yaw turns the object's
  front (+z) towards +x; positive pitch turns it towards -y."""
  from gan3d import render
  r = np.asarray(render.camera.rotation_matrix(jnp.asarray([0.3, 0.0])))
  assert (r @ [0, 0, 1])[0] > 0.2
  r = np.asarray(render.camera.rotation_matrix(jnp.asarray([0.0, 0.3])))
  assert (r @ [0, 0, 1])[1] < -0.2


def test_rotation_is_orthonormal_and_batched():
  from gan3d import render
  vps = jnp.asarray([[0.1, 0.2], [-1.0, 0.5], [2.0, -0.3]])
  r = np.asarray(render.camera.rotation_matrix(vps))
  assert r.shape == (3, 3, 3)
  np.testing.assert_allclose(r @ np.swapaxes(r, 1, 2),
                             np.broadcast_to(np.eye(3), r.shape), atol=1e-6)
  np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-6)


@pytest.mark.parametrize('h,w', [(16, 16), (12, 20)])
def test_project_matches_reference(h, w):
  from gan3d import render
  settings = _settings(height=h, width=w)
  v = np.random.default_rng(0).uniform(-1, 1, (20, 3))
  with jax.enable_x64(True):
    xy, depth = render.camera.project(jnp.asarray(v), None, settings)
  exy, edepth, _ = ref.project(v, None, h, w, D)
  np.testing.assert_allclose(np.asarray(xy), exy, atol=1e-9)
  np.testing.assert_allclose(np.asarray(depth), edepth, atol=1e-12)


def test_project_unit_ball_fits():
  from gan3d import render
  r = np.sqrt(1 - 1 / D ** 2)
  pts = np.array([[0, 0, 0], [r, 0, 1 / D], [-r, 0, 1 / D], [0, r, 1 / D],
                  [0, -r, 1 / D]])
  with jax.enable_x64(True):
    xy, depth = render.camera.project(jnp.asarray(pts), None, _settings())
  np.testing.assert_allclose(np.asarray(xy), [[8, 8], [16, 8], [0, 8],
                                              [8, 0], [8, 16]], atol=1e-9)
  np.testing.assert_allclose(np.asarray(depth)[0], D)


def test_sample_viewpoints():
  from gan3d import render
  key = jax.random.PRNGKey(0)
  vp = np.asarray(render.camera.sample_viewpoints(key, 256, (-45., 45.),
                                                  (-15., 15.)))
  assert vp.shape == (256, 2)
  assert np.all(np.abs(vp[:, 0]) <= np.deg2rad(45) + 1e-6)
  assert np.all(np.abs(vp[:, 1]) <= np.deg2rad(15) + 1e-6)
  assert vp[:, 0].std() > 0.3 and vp[:, 1].std() > 0.1
  again = np.asarray(render.camera.sample_viewpoints(key, 256))
  np.testing.assert_array_equal(vp, again)
  other = np.asarray(render.camera.sample_viewpoints(jax.random.PRNGKey(1), 256))
  assert not np.allclose(vp, other)


# ----------------------------------------------------------------------------
# Symmetries of the rendered image (float64, away from ties).
# ----------------------------------------------------------------------------

def _render64(settings, sc, vertices=None, faces=None, background=None,
              viewpoint=None, **kw):
  if not kw:
    kw = dict(attributes=jnp.asarray(sc['attributes']))
  return _jit_render(settings)(
      jnp.asarray(sc['vertices'] if vertices is None else vertices),
      jnp.asarray(sc['faces'] if faces is None else faces, jnp.int32),
      background=jnp.asarray(sc['background'] if background is None
                             else background),
      viewpoint=None if viewpoint is None else jnp.asarray(viewpoint), **kw)


def _ok(sc, settings, **kw):
  """Pixels at least 1e-6 from any discrete decision."""
  return ref.render_reference(sc['vertices'], sc['faces'], settings,
                              attributes=sc['attributes'],
                              background=sc['background'], **kw).margin > 1e-6


def test_viewpoint_equals_rotating_the_vertices():
  from gan3d import render
  settings = _settings()
  sc = _scene(1)
  vp = np.array([0.6, -0.35])
  with jax.enable_x64(True):
    r = np.asarray(render.camera.rotation_matrix(jnp.asarray(vp)))
    a = _render64(settings, sc, viewpoint=vp)
    b = _render64(settings, sc, vertices=sc['vertices'] @ r.T)
    c = _render64(settings, sc, viewpoint=vp + [2 * np.pi, 0.0])
  for x, y in ((a, b), (a, c)):
    np.testing.assert_allclose(np.asarray(x.image), np.asarray(y.image),
                               atol=1e-9)
    np.testing.assert_array_equal(np.asarray(x.triangle_id),
                                  np.asarray(y.triangle_id))


def test_face_order_does_not_matter():
  settings = _settings()
  sc = _scene(2)
  perm = np.random.default_rng(0).permutation(len(sc['faces']))
  with jax.enable_x64(True):
    a = _render64(settings, sc)
    b = _render64(settings, sc, faces=sc['faces'][perm])
  ok = _ok(sc, settings)
  np.testing.assert_allclose(np.asarray(a.image)[ok], np.asarray(b.image)[ok],
                             atol=1e-9)
  tid_a, tid_b = np.asarray(a.triangle_id), np.asarray(b.triangle_id)
  mapped = np.where(tid_b >= 0, perm[np.maximum(tid_b, 0)], -1)
  np.testing.assert_array_equal(tid_a[ok], mapped[ok])


@pytest.mark.parametrize('axis', [0, 1])
def test_mirror_symmetry(axis):
  """Negating x (y) and reversing the winding mirrors the image left-right
  (top-bottom); culling must see the mirrored faces as front faces again."""
  settings = _settings(cull_backfaces=True)
  sc = _scene(3)
  v2 = sc['vertices'].copy()
  v2[:, axis] *= -1
  bg2 = sc['background'][:, ::-1] if axis == 0 else sc['background'][::-1]
  with jax.enable_x64(True):
    a = _render64(settings, sc)
    b = _render64(settings, sc, vertices=v2, faces=sc['faces'][:, ::-1],
                  background=bg2)
  flip = (lambda x: x[:, ::-1]) if axis == 0 else (lambda x: x[::-1])
  ok = _ok(sc, settings) & flip(_ok(dict(sc, vertices=v2, faces=sc['faces'][:, ::-1],
                                         background=bg2), settings))
  assert ok.mean() > 0.9 and np.asarray(a.mask).sum() > 10
  np.testing.assert_allclose(np.asarray(a.image)[ok],
                             flip(np.asarray(b.image))[ok], atol=1e-9)
  np.testing.assert_array_equal(np.asarray(a.triangle_id)[ok],
                                flip(np.asarray(b.triangle_id))[ok])


def test_linear_in_attributes():
  settings = _settings()
  sc = _scene(4)
  rng = np.random.default_rng(0)
  a1, a2 = rng.normal(size=(2,) + sc['attributes'].shape)
  zero = np.zeros_like(sc['background'])
  with jax.enable_x64(True):
    r = lambda a: np.asarray(_render64(
        settings, sc, background=zero, attributes=jnp.asarray(a)).image)
    np.testing.assert_allclose(r(2 * a1 - 3 * a2), 2 * r(a1) - 3 * r(a2),
                               atol=1e-9)


def test_affine_texture_equals_attributes():
  """Bilinear sampling reproduces an affine function of (u, v) exactly away
  from the clamped border, so texturing == interpolating its vertex values."""
  settings = _settings()
  sc = _scene(5)
  ht, wt = 8, 10
  m = np.array([[1.0, -0.5, 0.2], [0.3, 0.8, -1.0]])
  c = np.array([0.1, -0.2, 0.3])
  jj, ii = np.meshgrid(np.arange(wt), np.arange(ht))
  tex = np.stack([(jj + 0.5) / wt, (ii + 0.5) / ht], -1) @ m + c
  uv = np.random.default_rng(1).uniform(0.1, 0.9, (len(sc['vertices']), 2))
  with jax.enable_x64(True):
    a = _render64(settings, sc, uv=jnp.asarray(uv), texture=jnp.asarray(tex))
    b = _render64(settings, sc, attributes=jnp.asarray(uv @ m + c))
  np.testing.assert_allclose(np.asarray(a.image), np.asarray(b.image),
                             atol=1e-9)


def test_fronto_parallel_plane_depth_and_normals():
  # A CCW (front-facing) quad at z = 0.25 covering the image centre.
  settings = _settings(cull_backfaces=True)
  v = np.array([[-0.5, -0.5, 0.25], [0.5, -0.5, 0.25], [0.5, 0.5, 0.25],
                [-0.5, 0.5, 0.25]])
  faces = np.array([[0, 1, 2], [0, 2, 3]])
  sc = dict(vertices=v, faces=faces, attributes=np.ones((4, 3)),
            background=np.zeros((H, W, 3)))
  out = _jit_render(settings)(jnp.asarray(v, jnp.float32),
                              jnp.asarray(faces, jnp.int32),
                              attributes=jnp.ones((4, 3)))
  mask = np.asarray(out.mask) > 0
  assert mask[8, 8] and not mask[0, 0]
  np.testing.assert_allclose(np.asarray(out.depth)[mask], D - 0.25, rtol=1e-6)
  assert np.all(np.asarray(out.depth)[~mask] == settings.z_far)
  np.testing.assert_allclose(np.asarray(out.normals)[mask], np.broadcast_to([0., 0., 1.], (mask.sum(), 3)),
                             atol=1e-6)
  assert np.all(np.asarray(out.normals)[~mask] == 0)
  assert np.all(np.asarray(out.triangle_id)[~mask] == -1)
  # Reversed winding: back faces, culled.
  out = _jit_render(settings)(jnp.asarray(v, jnp.float32),
                              jnp.asarray(faces[:, ::-1], jnp.int32),
                              attributes=jnp.ones((4, 3)))
  assert float(np.asarray(out.alpha).max()) == 0.0
  del sc


# ----------------------------------------------------------------------------
# Topology helpers used by the generator and the inverse-rendering test.
# ----------------------------------------------------------------------------

@pytest.mark.parametrize('n', [4, 8, 13])
def test_grid_topology(n):
  from gan3d import render
  faces = np.asarray(render.topology.grid_faces(n))
  assert faces.dtype == np.int32 and faces.ndim == 2 and faces.shape[1] == 3
  assert faces.min() >= 0 and faces.max() < n * n
  assert len(faces) > 0 and len(faces) <= 2 * (n - 1) ** 2
  # Every triangle lies in one grid cell and inside the central disc.
  i, j = faces // n, faces % n
  assert np.all(i.max(1) - i.min(1) == 1) and np.all(j.max(1) - j.min(1) == 1)
  c = (n - 1) / 2
  r = np.sqrt((i.mean(1) - c) ** 2 + (j.mean(1) - c) ** 2)
  assert r.max() <= c + 1e-6
  uv = np.asarray(render.topology.grid_uv(n))
  assert uv.shape == (n * n, 2) and uv.min() >= 0 and uv.max() <= 1
  # u follows the column, v the row.
  assert np.all(np.diff(uv.reshape(n, n, 2)[..., 0], axis=1) > 0)
  assert np.all(np.diff(uv.reshape(n, n, 2)[..., 1], axis=0) > 0)
  s = np.random.default_rng(0).normal(size=(n, n, 3))
  np.testing.assert_array_equal(
      np.asarray(render.topology.shape_image_to_vertices(jnp.asarray(s))),
      s.reshape(n * n, 3).astype(np.float32))


# ----------------------------------------------------------------------------
# jit, vmap, grad.
# ----------------------------------------------------------------------------

def test_vmap_equals_loop_and_single_trace():
  from gan3d import render
  settings = _settings()
  scenes = [_scene(s) for s in (6, 7, 8)]
  faces = jnp.asarray(scenes[0]['faces'], jnp.int32)
  v = jnp.asarray(np.stack([s['vertices'] for s in scenes]), jnp.float32)
  a = jnp.asarray(np.stack([s['attributes'] for s in scenes]), jnp.float32)
  bg = jnp.asarray(np.stack([s['background'] for s in scenes]), jnp.float32)
  vp = jnp.asarray([[0.1, 0.0], [-0.3, 0.2], [0.5, -0.1]], jnp.float32)

  def render_batch(v, a, bg, vp):
    return jax.vmap(lambda v, a, b, p: render.render_mesh(
        v, faces, settings=settings, attributes=a, background=b,
        viewpoint=p))(v, a, bg, vp)

  @jax.jit
  @chex.assert_max_traces(n=1)
  def loss(v, a, bg, vp):
    out = render_batch(v, a, bg, vp)
    return jnp.mean(out.image ** 2), out

  grad_fn = jax.jit(jax.grad(
      lambda *x: jnp.mean(render_batch(*x).image ** 2), argnums=(0, 1, 2, 3)))
  _, batched = loss(v, a, bg, vp)
  _, again = loss(v + 1e-3, a, bg, vp)     # same shapes: no second trace
  del again
  single = _jit_render(settings)
  for k in range(3):
    out = single(v[k], faces, attributes=a[k], background=bg[k],
                 viewpoint=vp[k])
    for field in ('image', 'alpha', 'depth', 'normals', 'triangle_id'):
      np.testing.assert_allclose(np.asarray(getattr(batched, field)[k]),
                                 np.asarray(getattr(out, field)), atol=1e-5,
                                 err_msg=field)
  grads = grad_fn(v, a, bg, vp)
  for g, x in zip(grads, (v, a, bg, vp)):
    assert g.shape == x.shape and np.all(np.isfinite(np.asarray(g)))
  assert np.abs(np.asarray(grads[0])).max() > 0
  assert np.abs(np.asarray(grads[3])).max() > 0


def test_numpy_inputs_work_under_jit_and_grad():
  """The README example: numpy uv/texture/background with jit(grad)."""
  import jax
  import jax.numpy as jnp
  import numpy as np
  from gan3d import render
  settings = render.RenderSettings(height=16, width=16, window=8)
  n = 6
  vertices = jnp.asarray(render.topology.grid_disc(n, 0.8).reshape(-1, 3))
  faces = render.topology.grid_faces(n)
  uv = render.topology.grid_uv(n)
  texture = np.full((2 * n, 2 * n, 3), 0.5, np.float32)
  background = np.zeros((16, 16, 3), np.float32)

  def loss(v):
    out = render.render_mesh(v, faces, settings=settings, uv=uv,
                             texture=texture, background=background,
                             viewpoint=np.array([0.3, 0.1], np.float32))
    return jnp.mean(out.image)

  g = jax.jit(jax.grad(loss))(vertices)
  assert g.shape == vertices.shape
  assert np.isfinite(np.asarray(g)).all() and np.abs(np.asarray(g)).sum() > 0


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_suggest_window_is_the_smallest_without_overflow(seed):
  """`suggest_window` and the renderer's overflow count use one definition:
  at the suggested K nothing overflows, at K - 1 something does."""
  from gan3d import render
  sc = _scene(seed)
  vp = jnp.asarray([0.4, -0.2], jnp.float32)
  k = render.suggest_window(sc['vertices'], sc['faces'], _settings(window=1), vp)
  assert k >= 2

  def overflow(window):
    # Jitted: one compiled program per window instead of hundreds of
    # eagerly dispatched operations (the test's time was all dispatch).
    out = jax.jit(functools.partial(render.render_mesh, settings=_settings(window=window)))(
        jnp.asarray(sc['vertices'], jnp.float32), jnp.asarray(sc['faces']),
        attributes=jnp.asarray(sc['attributes'], jnp.float32),
        background=jnp.asarray(sc['background'], jnp.float32), viewpoint=vp)
    return int(out.overflow)

  assert overflow(k) == 0
  assert overflow(k - 1) > 0


@pytest.mark.parametrize('seed', [0, 3])
def test_window_pairs_hold_every_pixel_a_triangle_can_touch(seed):
  """`rasterize.window_pairs` (render_mesh's discrete start): with the
  window `suggest_window` gives, every pixel centre within the soft width B
  of a drawn triangle (the reference's closest-point distance) is one of
  that triangle's ``ok`` pairs, and every pixel centre inside it one of its
  ``crisp_ok`` pairs (the z-buffer's smaller window); triangles with a
  vertex behind the camera or not finite have no pair; nothing is
  differentiable."""
  from gan3d import render
  from gan3d.render import camera, rasterize  # pylint: disable=g-multiple-import
  sc = _scene(seed)
  verts = np.asarray(sc['vertices'], np.float64).copy()
  faces = np.asarray(sc['faces'])
  verts[faces[0, 0]] = np.nan                       # triangle 0: not finite
  verts[faces[1]] = [0.0, 0.0, D + 1.0]             # triangle 1: behind the camera
  vp = jnp.asarray([0.4, -0.2])
  k = render.suggest_window(verts, faces, _settings(window=1), vp)
  settings = _settings(window=k)
  with jax.enable_x64(True):
    def pairs(v):
      vc = camera.to_camera(v, vp)
      fin = jnp.all(jnp.isfinite(vc), -1)
      return rasterize.window_pairs(jnp.where(fin[:, None], vc, 0.0),
                                    jnp.asarray(faces, jnp.int32), settings, fin)
    v = jnp.asarray(verts)
    wp = jax.jit(pairs)(v)
    g = jax.grad(lambda v: jnp.sum(pairs(v)[0]))(jnp.nan_to_num(v))
  assert int(wp.overflow) == 0 and not np.any(np.asarray(g))
  valid, pix, ok = np.asarray(wp.valid), np.asarray(wp.pix), np.asarray(wp.ok)
  crisp_pix, crisp_ok = np.asarray(wp.crisp_pix), np.asarray(wp.crisp_ok)
  assert crisp_pix.shape[1] == (k - 2) ** 2 < pix.shape[1] == k * k
  assert not valid[0] and not valid[1] and not ok[:2].any()
  assert not crisp_ok[:2].any()
  xy, depth, _ = ref.project(np.nan_to_num(verts), np.asarray(vp), H, W, D)
  centres = np.stack(np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5), -1).reshape(-1, 2)
  drawn = np.flatnonzero(valid)
  dist, _, _ = ref.closest_point(centres, xy[faces[drawn]])        # [P, drawn]
  checked = covered = 0
  for i, t in enumerate(drawn):
    near = np.flatnonzero(dist[:, i] <= settings.soft_width)
    assert set(near) <= set(pix[t][ok[t]]), t
    inside = np.flatnonzero(dist[:, i] == 0.0)
    assert set(inside) <= set(crisp_pix[t][crisp_ok[t]]), t
    checked += len(near)
    covered += len(inside)
  assert valid.sum() >= 10 and checked > 50 and covered > 10


@pytest.mark.parametrize('f', [1, 2, 3])
def test_box_downsample_is_the_block_mean(f):
  from gan3d import render  # pylint: disable=g-import-not-at-top
  x = np.random.default_rng(f).normal(size=(4 * f, 5 * f, 3))
  want = np.array([[x[i * f:(i + 1) * f, j * f:(j + 1) * f].mean(axis=(0, 1))
                    for j in range(5)] for i in range(4)])
  np.testing.assert_allclose(render.box_downsample(jnp.asarray(x), f), want, rtol=1e-6,
                             atol=1e-6)
  mask = np.zeros((2 * f, 2 * f))
  mask[:f, :f] = 1.0                                  # one full block, no channel axis
  np.testing.assert_array_equal(render.box_downsample(mask, f), [[1.0, 0.0], [0.0, 0.0]])
