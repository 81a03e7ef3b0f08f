"""Tests of gan3d.losses: GAN losses, R1, path length (through the renderer),
EMA of the generator weights and the running w_avg."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan3d import losses
from gan3d import render


def test_logistic_losses_values():
  zero = jnp.zeros((4,))
  np.testing.assert_allclose(losses.d_logistic_loss(zero, zero), 2 * np.log(2), rtol=1e-6)
  np.testing.assert_allclose(losses.g_nonsaturating_loss(zero), np.log(2), rtol=1e-6)
  # A confident, correct D has ~0 loss; G's non-saturating loss is then large.
  big = jnp.full((4,), 30.0)
  assert float(losses.d_logistic_loss(big, -big)) < 1e-6
  assert float(losses.g_nonsaturating_loss(-big)) > 29
  assert np.isfinite(float(losses.d_logistic_loss(-1e4 * big, 1e4 * big)))


def test_r1_penalty_of_linear_discriminator():
  a = jnp.asarray(np.random.default_rng(0).standard_normal((4, 4, 3)).astype(np.float32))
  x = jnp.ones((5, 4, 4, 3))
  pen = losses.r1_penalty(lambda im: jnp.einsum('bhwc,hwc->b', im, a), x)
  np.testing.assert_allclose(pen, jnp.sum(a ** 2), rtol=1e-5)
  # Quadratic D: gradient 2x, penalty 4 ||x||^2.
  pen2 = losses.r1_penalty(lambda im: jnp.sum(im ** 2, axis=(1, 2, 3)), x)
  np.testing.assert_allclose(pen2, 4 * 48, rtol=1e-5)


def test_path_length_linear_generator():
  rng = np.random.default_rng(1)
  a = jnp.asarray(rng.standard_normal((3, 5, 4, 4, 3)).astype(np.float32))   # [L, D, H, W, C]
  ws = {'object': jnp.ones((2, 3, 5)), 'background': jnp.ones((2, 3, 5))}
  fn = lambda w: (jnp.einsum('bld,ldhwc->bhwc', w['object'], a)
                  + jnp.einsum('bld,ldhwc->bhwc', w['background'], 2 * a))
  key = jax.random.key(0)
  pen, new_mean, lengths = losses.path_length_penalty(fn, ws, key, jnp.float32(0.0), 0.01)
  y = jax.random.normal(key, (2, 4, 4, 3)) / 4.0
  g = jnp.einsum('bhwc,ldhwc->bld', y, a)
  expect = jnp.sqrt(jnp.mean(jnp.sum(g ** 2, -1), -1) * (1 + 4))
  np.testing.assert_allclose(lengths, expect, rtol=1e-5)
  np.testing.assert_allclose(new_mean, 0.01 * jnp.mean(expect), rtol=1e-5)
  np.testing.assert_allclose(pen, jnp.mean((expect - new_mean) ** 2), rtol=1e-5)


@pytest.mark.slow
def test_path_length_second_derivatives_through_renderer():
  """d(penalty)/d(params) differentiates the renderer's backward pass."""
  faces = jnp.asarray(render.topology.grid_faces(4))
  uv = jnp.asarray(render.topology.grid_uv(4))
  settings = render.RenderSettings(height=8, width=8)
  base = jnp.asarray(render.topology.grid_disc(4, 0.8)).reshape(-1, 3)
  rng = np.random.default_rng(2)
  ws = jnp.asarray(rng.standard_normal((1, 2, 6)).astype(np.float32))

  def images_fn(params, w):
    off = jnp.tanh(w[:, 0] @ params['shape']).reshape(-1, 16, 3) * 0.2
    tex = jnp.tanh(w[:, 1] @ params['tex']).reshape(-1, 8, 8, 3)
    out = jax.vmap(lambda v, t: render.render_mesh(v, faces, settings=settings, uv=uv,
                                                   texture=t).image)(base + off, tex)
    return out

  params = {'shape': jnp.asarray(rng.standard_normal((6, 48)).astype(np.float32)),
            'tex': jnp.asarray(rng.standard_normal((6, 192)).astype(np.float32))}

  @jax.jit
  def grad(p):
    def loss(p):
      pen, _, _ = losses.path_length_penalty(lambda w: images_fn(p, w), ws, jax.random.key(3),
                                             jnp.float32(0.0), 0.01)
      return pen
    return jax.grad(loss)(p)

  g = grad(params)
  for k in ('shape', 'tex'):
    assert np.isfinite(g[k]).all(), k
    assert float(jnp.linalg.norm(g[k])) > 0, k


def test_ema_beta_and_update():
  beta = losses.ema_beta(32, cur_nimg=10**6, ema_kimg=10.0, ema_rampup=0.05)
  np.testing.assert_allclose(beta, 0.5 ** (32 / 10000), rtol=1e-6)
  # Ramp-up early in training limits the half-life to cur_nimg * rampup images.
  early = losses.ema_beta(32, cur_nimg=1000, ema_kimg=10.0, ema_rampup=0.05)
  np.testing.assert_allclose(early, 0.5 ** (32 / 50), rtol=1e-6)
  assert float(losses.ema_beta(32, 0, 10.0, None)) == pytest.approx(0.5 ** (32 / 10000))
  # Half-life: after ema_kimg * 1000 images the old weights count one half.
  ema, p = {'a': jnp.ones((3,))}, {'a': jnp.zeros((3,))}
  for _ in range(10000 // 32):
    ema = losses.ema_update(ema, p, beta)
  np.testing.assert_allclose(ema['a'], 0.5 ** (32 * (10000 // 32) / 10000), rtol=1e-4)
  np.testing.assert_array_equal(losses.ema_update({'a': jnp.ones(2)}, {'a': jnp.zeros(2)}, 0.0)['a'], 0)


def test_update_w_avg():
  avg = {'object': jnp.zeros((3,)), 'background': jnp.ones((3,))}
  w = {'object': jnp.full((4, 3), 2.0), 'background': jnp.full((4, 3), 2.0)}
  new = losses.update_w_avg(avg, w, 0.995)
  np.testing.assert_allclose(new['object'], 0.005 * 2.0, rtol=1e-5)
  np.testing.assert_allclose(new['background'], 1.0 + 0.005, rtol=1e-5)
  np.testing.assert_allclose(losses.update_w_avg(avg, w, 0.0)['object'], 2.0)


def _cap(n=12, shear=0.0):
  """A sphere cap shape image as vertices [1, n*n, 3], sheared by z += shear y."""
  from gan3d.render import topology  # pylint: disable=g-import-not-at-top
  s = topology.grid_disc(n, 0.8).astype(np.float64)
  r2 = s[..., 0] ** 2 + s[..., 1] ** 2
  s[..., 2] = 0.5 * np.maximum(1 - r2 / 0.64, 0.0) + shear * s[..., 1]
  return jnp.asarray(s.reshape(1, -1, 3)), jnp.asarray(topology.grid_faces(n))


@pytest.mark.parametrize('shear', [0.0, 0.3, -0.5])
def test_mesh_lean_of_sheared_surfaces(shear):
  """A cap (symmetric in y) has no lean; shearing it by z += t y makes it lean
  by -t / sqrt(1 + t^2) for a flat disc, the same sign and a similar size for
  the cap; the face winding (which side the normals point) does not matter."""
  from gan3d.render import topology  # pylint: disable=g-import-not-at-top
  with jax.enable_x64(True):
    v, f = _cap(shear=shear)
    lean = float(losses.mesh_lean(v, f)[0])
    flipped = float(losses.mesh_lean(v, f[:, ::-1])[0])
    assert lean == pytest.approx(flipped, abs=1e-12)
    disc = np.asarray(topology.grid_disc(12, 0.8), np.float64)
    disc[..., 2] = shear * disc[..., 1]
    flat = float(losses.mesh_lean(jnp.asarray(disc.reshape(1, -1, 3)), f)[0])
    assert flat == pytest.approx(-shear / np.sqrt(1 + shear ** 2), abs=1e-9)
    if shear == 0.0:
      assert abs(lean) < 1e-9
    else:
      assert np.sign(lean) == -np.sign(shear)
      assert 0.5 * abs(flat) < abs(lean) < 1.5 * abs(flat)


def test_lean_penalty_is_the_square_of_the_batch_mean_and_its_gradient_unleans():
  with jax.enable_x64(True):
    (v1, f), (v2, _) = _cap(shear=0.4), _cap(shear=-0.1)
    v = jnp.concatenate([v1, v2])
    leans = losses.mesh_lean(v, f)
    assert float(losses.lean_penalty(v, f)) == pytest.approx(float(jnp.mean(leans)) ** 2)
    # Opposite leans cancel: the penalty is on the batch's mean only.
    assert float(losses.lean_penalty(jnp.concatenate([v1, v1 * jnp.array([1, -1, 1])]), f)) < 1e-20
    g = jax.grad(losses.lean_penalty)(v, f)
    step = v - 0.01 * g / jnp.max(jnp.abs(g))
    assert float(losses.lean_penalty(step, f)) < float(losses.lean_penalty(v, f))


def test_lean_penalty_finite_gradients_at_degenerate_faces():
  """Collapsed vertices (zero-area faces) add normal 0 and no NaN."""
  v, f = _cap(n=8)
  v = v.astype(jnp.float32).at[0, :20].set(0.0)
  val, g = jax.value_and_grad(losses.lean_penalty)(v, f)
  assert np.isfinite(float(val)) and bool(jnp.all(jnp.isfinite(g)))


def _front_lean_reference(v, f):
  """`losses.front_lean` of one mesh, straight from its definition: a loop
  over the triangles, each front-facing one weighted by its area projected
  on the xy plane (the shoelace formula), the mean of its unit normal's y."""
  v = np.asarray(v, np.float64)
  normals = [np.cross(v[b] - v[a], v[c] - v[a]) for a, b, c in f]
  sign = -1.0 if sum(nn[2] / max(np.linalg.norm(nn), 1e-300) for nn in normals) < 0 else 1.0
  num = den = 0.0
  for (a, b, c), nn in zip(f, normals):
    (xa, ya), (xb, yb), (xc, yc) = v[a, :2], v[b, :2], v[c, :2]
    projected = 0.5 * ((xb - xa) * (yc - ya) - (xc - xa) * (yb - ya)) * sign
    norm = np.linalg.norm(nn)
    if projected <= 0 or norm == 0:
      continue
    num += projected * sign * nn[1] / norm
    den += projected
  return num / den if den > 0 else 0.0


def _bumpy_sheet(n, key, xy_jitter):
  """A random bumpy height field on the n x n disc grid, its x, y moved too."""
  from gan3d.render import topology  # pylint: disable=g-import-not-at-top
  d = np.asarray(topology.grid_disc(n, 0.8), np.float64)
  rng = np.random.default_rng(key)
  d[..., 2] = 0.4 * (1 - (d[..., 0] ** 2 + d[..., 1] ** 2)) + 0.05 * rng.normal(size=(n, n))
  d[..., :2] += xy_jitter * rng.normal(size=(n, n, 2))
  return d.reshape(-1, 3), np.asarray(topology.grid_faces(n))


@pytest.mark.parametrize('seed,xy_jitter', [(0, 0.0), (1, 0.01), (2, 0.03)])
def test_front_lean_matches_the_reference_loop(seed, xy_jitter):
  with jax.enable_x64(True):
    v, f = _bumpy_sheet(9, seed, xy_jitter)
    got = float(losses.front_lean(jnp.asarray(v[None]), jnp.asarray(f))[0])
    assert got == pytest.approx(_front_lean_reference(v, f), abs=1e-12)
    flipped = float(losses.front_lean(jnp.asarray(v[None]), jnp.asarray(f[:, ::-1]))[0])
    assert flipped == pytest.approx(got, abs=1e-12)


@pytest.mark.parametrize('shear', [0.0, 0.3, -0.5])
def test_front_lean_of_sheared_surfaces(shear):
  """A flat disc sheared by z += t y leans by -t / sqrt(1 + t^2); a cap,
  symmetric in y, not at all. On a height field over the grid (every
  triangle's projected area the same) it equals `mesh_lean`."""
  from gan3d.render import topology  # pylint: disable=g-import-not-at-top
  with jax.enable_x64(True):
    v, f = _cap(shear=shear)
    assert float(losses.front_lean(v, f)[0]) == pytest.approx(   # grid in float32
        float(losses.mesh_lean(v, f)[0]), abs=1e-6)
    disc = np.asarray(topology.grid_disc(12, 0.8), np.float64)
    disc[..., 2] = shear * disc[..., 1]
    flat = float(losses.front_lean(jnp.asarray(disc.reshape(1, -1, 3)), f)[0])
    assert flat == pytest.approx(-shear / np.sqrt(1 + shear ** 2), abs=1e-9)
    if shear == 0.0:
      assert abs(float(losses.front_lean(v, f)[0])) < 1e-9


def test_front_lean_ignores_what_the_front_cannot_see():
  """A level square with a flap folded back behind it (turned away from the
  camera): `mesh_lean` counts the flap, `front_lean` does not; a rim
  squeezed edge-on (tiny projected area) counts for almost nothing."""
  with jax.enable_x64(True):
    v = jnp.asarray([[[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0],
                      [0, 0.5, -1.0]]], jnp.float64)
    front = [[0, 1, 2], [0, 2, 3]]
    flap = [[3, 2, 4]]                      # its normal points to -z and up
    f = jnp.asarray(front + flap)
    assert abs(float(losses.front_lean(v, f)[0])) < 1e-12
    assert abs(float(losses.mesh_lean(v, f)[0])) > 0.1
    # The flap brought in front, almost edge-on (its normal nearly -y):
    # mesh_lean counts a third of it, front_lean a projected area of 0.005
    # against the square's 1.
    v2 = v.at[0, 4].set(jnp.asarray([0.0, 1.01, 1.0]))
    f2 = jnp.asarray(front + [[3, 2, 4]])
    assert abs(float(losses.front_lean(v2, f2)[0])) < 0.01
    assert abs(float(losses.mesh_lean(v2, f2)[0])) > 0.3


def test_front_lean_gradients_and_degenerate_meshes():
  """Finite value and gradient for a collapsed mesh (all faces of zero
  area: lean 0) and a mesh turned wholly away; float64 gradients match
  finite differences on a bumpy sheet with moved x, y."""
  from jax import test_util  # pylint: disable=g-import-not-at-top
  v, f = _cap(n=8)
  f32 = v.astype(jnp.float32)
  for bad in (jnp.zeros_like(f32), f32.at[0, :20].set(0.0)):
    val, g = jax.value_and_grad(lambda x: losses.lean_penalty(x, f, 'front'))(bad)
    assert np.isfinite(float(val)) and bool(jnp.all(jnp.isfinite(g)))
  assert float(losses.front_lean(jnp.zeros_like(f32), f)[0]) == 0.0
  with jax.enable_x64(True):
    sheet, faces = _bumpy_sheet(6, 3, 0.02)
    test_util.check_grads(lambda x: losses.front_lean(x, jnp.asarray(faces)),
                          (jnp.asarray(sheet[None]),), order=1, modes=('rev',),
                          atol=1e-6, rtol=1e-6)


def test_lean_penalty_measures():
  """``measure`` picks the lean; an unknown one names itself."""
  with jax.enable_x64(True):
    (v1, f), (v2, _) = _cap(shear=0.4), _cap(shear=-0.1)
    v = jnp.concatenate([v1, v2])
    v = v.at[:, :, 0].multiply(1.0 + 0.3 * v[:, :, 1] ** 2)    # x moved: not a plain height field
    for m, fn in (('mesh', losses.mesh_lean), ('front', losses.front_lean)):
      want = float(jnp.mean(fn(v, f))) ** 2
      assert float(losses.lean_penalty(v, f, m)) == pytest.approx(want, rel=1e-12)
    assert float(losses.lean_penalty(v, f, 'front')) != pytest.approx(
        float(losses.lean_penalty(v, f, 'mesh')), rel=1e-3)
    with pytest.raises(ValueError, match="lean measure 'centre'"):
      losses.lean_penalty(v, f, 'centre')


@pytest.mark.parametrize('n', [2, 5, 12])
def test_face_adjacency_pairs_each_shared_edge_once(n):
  """Brute force over all face pairs: two faces are listed iff they share
  exactly two vertices, each such pair once."""
  from gan3d.render import topology  # pylint: disable=g-import-not-at-top
  f = topology.grid_faces(n)
  want = {(a, b) for a in range(len(f)) for b in range(a + 1, len(f))
          if len(set(f[a]) & set(f[b])) == 2}
  got = [tuple(sorted(p)) for p in topology.face_adjacency(n).tolist()]
  assert len(got) == len(set(got))
  assert set(got) == want


def test_normal_consistency_plane_sphere_fold_and_invariances():
  """0 for a plane; about h^2 / (2 R^2) for a sphere; a crease costs more than
  the whole smooth dome; unchanged by rotating, translating or scaling the
  mesh; the same for either winding."""
  from gan3d.render import topology  # pylint: disable=g-import-not-at-top
  n = 16
  f, p = jnp.asarray(topology.grid_faces(n)), jnp.asarray(topology.face_adjacency(n))
  s = topology.grid_disc(n, 0.8).astype(np.float64)
  x, y = s[..., 0], s[..., 1]
  def nc(z, faces=f):
    v = jnp.asarray(np.stack([x, y, z], -1).reshape(1, -1, 3))
    return float(losses.normal_consistency(v, faces, p)[0])
  with jax.enable_x64(True):
    assert nc(0.0 * x) == pytest.approx(0.0, abs=1e-12)
    r = 2.0
    sphere = np.sqrt(r ** 2 - x ** 2 - y ** 2)
    h = 1.6 / (n - 1)
    assert 0.3 * h ** 2 / (2 * r ** 2) < nc(sphere) < 3 * h ** 2 / (2 * r ** 2)
    fold = sphere + 0.2 * (y > 0.05)
    assert nc(fold) > 5 * nc(sphere)
    assert nc(sphere, f[:, ::-1]) == pytest.approx(nc(sphere), rel=1e-9)
    v = np.stack([x, y, sphere], -1).reshape(1, -1, 3)
    c, s_ = np.cos(0.7), np.sin(0.7)
    rot = np.array([[1, 0, 0], [0, c, -s_], [0, s_, c]])
    moved = 3.0 * v @ rot.T + np.array([0.5, -1.0, 2.0])
    assert float(losses.normal_consistency(jnp.asarray(moved), f, p)[0]) == pytest.approx(
        nc(sphere), rel=1e-9)


def test_normal_consistency_gradient_unfolds_and_is_finite_at_degenerate_faces():
  from gan3d.render import topology  # pylint: disable=g-import-not-at-top
  n = 10
  f, p = jnp.asarray(topology.grid_faces(n)), jnp.asarray(topology.face_adjacency(n))
  s = topology.grid_disc(n, 0.8)
  s[..., 2] = 0.3 * (s[..., 1] > 0)
  v = jnp.asarray(s.reshape(1, -1, 3), jnp.float32)
  loss = lambda v: jnp.sum(losses.normal_consistency(v, f, p))
  val, g = jax.value_and_grad(loss)(v)
  assert float(loss(v - 0.01 * g / jnp.max(jnp.abs(g)))) < float(val)
  v = v.at[0, :25].set(0.0)                   # collapsed: zero-area faces
  val, g = jax.value_and_grad(loss)(v)
  assert np.isfinite(float(val)) and bool(jnp.all(jnp.isfinite(g)))


def _crease_reference(s):
  """crease_penalty straight from its definition, loops over cells."""
  n = s.shape[0]
  c = (n - 1) / 2.0
  inside_v = lambda i, j: (i - c) ** 2 + (j - c) ** 2 <= c ** 2 + 1e-6
  def cell_inside(i, j):
    return all(inside_v(a, b) for a in (i, i + 1) for b in (j, j + 1))
  def normal(i, j):
    m = np.cross(s[i + 1, j + 1] - s[i, j], s[i, j + 1] - s[i + 1, j])
    return m / np.linalg.norm(m)
  terms = []
  for i in range(n - 1):
    for j in range(n - 1):
      for di, dj in ((0, 1), (1, 0)):
        cells = [(i + k * di, j + k * dj) for k in range(3)]
        if all(a < n - 1 and b < n - 1 and cell_inside(a, b) for a, b in cells):
          na, nb, nc = (normal(a, b) for a, b in cells)
          terms.append(np.sum((na - 2 * nb + nc) ** 2))
  return np.mean(terms)


@pytest.mark.parametrize('n', [8, 13])
def test_crease_penalty_matches_reference_and_spares_smooth_domes(n):
  """Equals the loop reference; 0 for a plane; a sphere costs about
  (h / R)^4, far less than the bend prior's (h / R)^2 / 2, so a dome is not
  pulled flat; a fold costs far more than the dome; invariant to rotation,
  translation and scale."""
  from gan3d.render import topology  # pylint: disable=g-import-not-at-top
  s = topology.grid_disc(n, 0.8).astype(np.float64)
  x, y = s[..., 0], s[..., 1]
  f, p = jnp.asarray(topology.grid_faces(n)), jnp.asarray(topology.face_adjacency(n))
  def img(z):
    return np.stack([x, y, z], -1)
  def cp(z):
    return float(losses.crease_penalty(jnp.asarray(img(z)[None]))[0])
  with jax.enable_x64(True):
    r = 2.0
    sphere = np.sqrt(r ** 2 - x ** 2 - y ** 2)
    fold = sphere + 0.2 * (y > 0.05)
    for z in (sphere, fold, 0.3 * np.sin(3 * x) * np.cos(2 * y)):
      assert cp(z) == pytest.approx(_crease_reference(img(z)), rel=1e-9)
    assert cp(0.0 * x) == pytest.approx(0.0, abs=1e-20)
    h = 1.6 / (n - 1)
    assert cp(sphere) < 3 * (h / r) ** 4
    bend = float(losses.normal_consistency(
        jnp.asarray(img(sphere).reshape(1, -1, 3)), f, p)[0])
    assert cp(sphere) < 0.2 * bend
    assert cp(fold) > 50 * cp(sphere)
    c, s_ = np.cos(0.7), np.sin(0.7)
    rot = np.array([[1, 0, 0], [0, c, -s_], [0, s_, c]])
    moved = 3.0 * img(sphere) @ rot.T + np.array([0.5, -1.0, 2.0])
    assert float(losses.crease_penalty(jnp.asarray(moved[None]))[0]) == pytest.approx(
        cp(sphere), rel=1e-9)


def test_crease_penalty_gradient_matches_finite_differences_and_is_finite():
  from gan3d.render import topology  # pylint: disable=g-import-not-at-top
  n = 7
  rng = np.random.default_rng(0)
  s = topology.grid_disc(n, 0.8).astype(np.float64)
  s[..., 2] = 0.3 * (s[..., 1] > 0) + 0.05 * rng.normal(size=(n, n))
  with jax.enable_x64(True):
    fn = lambda v: jnp.sum(losses.crease_penalty(v))
    jax.test_util.check_grads(fn, (jnp.asarray(s[None]),), order=1,
                              modes=('rev',), atol=1e-6, rtol=1e-5)
  v = jnp.asarray(s[None], jnp.float32).at[0, :3].set(0.0)   # degenerate cells
  val, g = jax.value_and_grad(fn)(v)
  assert np.isfinite(float(val)) and bool(jnp.all(jnp.isfinite(g)))
  # A descent step lowers it.
  v = jnp.asarray(s[None], jnp.float32)
  val, g = jax.value_and_grad(fn)(v)
  assert float(fn(v - 0.01 * g / jnp.max(jnp.abs(g)))) < float(val)
