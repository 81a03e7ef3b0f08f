"""The reference renderer on hand-computed cases, and `gan3d.render` against it.

Part 1 checks tests/reference_renderer.py itself (eqs 6-12 as corrected in
renderer-notes.md) on cases worked out by hand or by an independent ray cast.
Part 2 holds the fast renderer `gan3d.render.render_mesh` to the reference on
random triangle soups with occlusions, silhouettes, off-screen and partially
visible triangles.
"""

import functools

import jax
import numpy as np
import pytest

import reference_renderer as ref

H = W = 16
D = 4.0


def _screen_triangle(xy, depth=4.0, h=H, w=W):
  """Object-space vertices that project to screen points xy [3, 2]."""
  return ref.unproject(np.asarray(xy, float), depth, h, w, D)


def _solve_bary(p, tri):
  """Barycentrics by a 2x2 linear solve (independent of the reference)."""
  a, b, c = np.asarray(tri, float)
  m = np.stack([b - a, c - a], 1)
  l1, l2 = np.linalg.solve(m, np.asarray(p, float) - a)
  return np.array([1 - l1 - l2, l1, l2])


# The screen triangle used by several hand cases: top edge on y = 4.
TRI = [(2.0, 4.0), (12.0, 4.0), (7.0, 12.0)]
COLS = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
BG = np.full((H, W, 3), 0.25)


# ----------------------------------------------------------------------------
# Part 1: the reference on its own.
# ----------------------------------------------------------------------------

class TestReferenceCamera:

  def test_origin_projects_to_centre(self):
    xy, depth, _ = ref.project(np.zeros((1, 3)), None, H, W, D)
    np.testing.assert_allclose(xy[0], [W / 2, H / 2])
    assert depth[0] == D

  @pytest.mark.parametrize('d', [1.5, 4.0, 10.0])
  def test_unit_ball_touches_the_border(self, d):
    # Tangent points of the unit sphere seen from (0, 0, d): z = 1/d.
    r = np.sqrt(1 - 1 / d ** 2)
    pts = np.array([[r, 0, 1 / d], [-r, 0, 1 / d], [0, r, 1 / d], [0, -r, 1 / d]])
    xy, _, _ = ref.project(pts, None, H, W, d)
    np.testing.assert_allclose(xy, [[W, H / 2], [0, H / 2], [W / 2, 0],
                                    [W / 2, H]], atol=1e-12)

  def test_rotation_convention(self):
    # Positive yaw turns +x away from the camera (R_y), pitch turns +y to it.
    r = ref.rotation_matrix([np.pi / 2, 0.0])
    np.testing.assert_allclose(r @ [1, 0, 0], [0, 0, -1], atol=1e-12)
    r = ref.rotation_matrix([0.0, np.pi / 2])
    np.testing.assert_allclose(r @ [0, 1, 0], [0, 0, 1], atol=1e-12)
    r = ref.rotation_matrix([0.3, -0.7])
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(r), 1.0)

  def test_unproject_inverts_project(self):
    xy = np.array([[1.0, 2.0], [15.0, 9.5]])
    v = ref.unproject(xy, [3.0, 5.0], H, W, D)
    got, depth, _ = ref.project(v, None, H, W, D)
    np.testing.assert_allclose(got, xy)
    np.testing.assert_allclose(depth, [3.0, 5.0])


class TestReferenceTexture:

  def test_texel_centres_bilinear_and_clamp(self):
    tex = np.arange(12.0).reshape(3, 4, 1)        # Ht=3, Wt=4
    centre = lambda i, j: [(j + 0.5) / 4, (i + 0.5) / 3]
    uv = np.array([centre(0, 0), centre(2, 3), centre(1, 2),
                   [0.5, centre(1, 0)[1]],          # halfway j=1..2
                   [0.0, 0.0], [1.0, 1.0], [-3.0, 0.5]])
    got = ref.sample_bilinear(tex, uv)[:, 0]
    np.testing.assert_allclose(got, [0, 11, 6, 5.5, 0, 11, 4])


class TestReferenceHandCases:

  def _render(self, bw=1.0, soft=True, **kw):
    v = _screen_triangle(TRI)
    return ref.render_reference(v, [[0, 1, 2]], height=H, width=W, soft=soft,
                                soft_width=bw, attributes=COLS, background=BG,
                                **kw)

  def test_interior_pixel(self):
    out = self._render()
    p = (7.5, 8.5)                                  # pixel (i=8, j=7)
    lam = _solve_bary(p, TRI)
    assert np.all(lam > 0)
    np.testing.assert_allclose(out.image[8, 7], lam @ COLS, atol=1e-12)
    assert out.mask[8, 7] == 1 and out.alpha[8, 7] == 1
    assert out.triangle_id[8, 7] == 0
    np.testing.assert_allclose(out.depth[8, 7], 4.0)

  @pytest.mark.parametrize('bw', [0.5, 1.0, 2.0])
  def test_half_pixel_outside_an_edge(self, bw):
    # Pixel (i=3, j=5), centre (5.5, 3.5): 0.5 px above the edge y = 4, whose
    # closest point (5.5, 4) is 35% of the way from vertex 0 to vertex 1.
    out = self._render(bw)
    w = max(0.0, 1 - 0.5 / bw) if 0.5 < bw else 0.0
    edge_col = 0.65 * COLS[0] + 0.35 * COLS[1]
    np.testing.assert_allclose(out.alpha[3, 5], w, atol=1e-12)
    np.testing.assert_allclose(out.image[3, 5], w * edge_col + (1 - w) * 0.25,
                               atol=1e-12)
    assert out.mask[3, 5] == 0 and out.triangle_id[3, 5] == -1
    assert out.depth[3, 5] == 1e4

  def test_vertex_region(self):
    # Pixel (i=3, j=1), centre (1.5, 3.5): closest point is vertex 0 (2, 4).
    out = self._render(1.0)
    w = 1 - np.sqrt(0.5)
    np.testing.assert_allclose(out.image[3, 1], w * COLS[0] + (1 - w) * 0.25,
                               atol=1e-12)

  def test_crisp_has_no_extension(self):
    out = self._render(2.0, soft=False)
    np.testing.assert_allclose(out.image[3, 5], [0.25] * 3)
    assert out.alpha[3, 5] == 0

  def test_backface_culling(self):
    # TRI is counter-clockwise on the y-down screen = clockwise seen from the
    # camera in a y-up view: a back face.
    out = self._render(cull_backfaces=True)
    np.testing.assert_allclose(out.image, BG)
    v = _screen_triangle(TRI)
    out2 = ref.render_reference(v, [[0, 2, 1]], height=H, width=W,
                                attributes=COLS, background=BG,
                                cull_backfaces=True)
    assert out2.mask.sum() > 10

  def test_perspective_correct_against_ray_cast(self):
    # A tilted triangle: depth and attributes at each pixel from an explicit
    # ray / plane intersection and 3D barycentrics.
    v = np.array([[-0.8, -0.6, 0.7], [0.9, -0.3, -0.9], [-0.1, 0.9, 0.2]])
    out = ref.render_reference(v, [[0, 1, 2]], height=H, width=W, soft=False,
                               attributes=COLS, background=BG)
    f = 0.5 * W * np.sqrt(D * D - 1)
    normal = np.cross(v[1] - v[0], v[2] - v[0])
    cam = np.array([0, 0, D])
    n_cov = 0
    for i in range(H):
      for j in range(W):
        ray = np.array([(j + 0.5 - W / 2) / f, -(i + 0.5 - H / 2) / f, -1.0])
        s = normal @ (v[0] - cam) / (normal @ ray)
        pt = cam + s * ray
        m = np.stack([v[1] - v[0], v[2] - v[0], normal], 1)
        l1, l2, _ = np.linalg.solve(m, pt - v[0])
        lam = np.array([1 - l1 - l2, l1, l2])
        inside = np.all(lam > 1e-9)
        if np.any(np.abs(lam) < 1e-9):
          continue
        assert out.mask[i, j] == inside, (i, j)
        if inside:
          n_cov += 1
          np.testing.assert_allclose(out.depth[i, j], s, rtol=1e-12)
          np.testing.assert_allclose(out.image[i, j], lam @ COLS, atol=1e-12)
    assert n_cov > 20

  @pytest.mark.parametrize('slope,visible', [(0.0, True), (1.0, True),
                                             (3.0, False)])
  def test_soft_edge_over_an_occluded_triangle(self, slope, visible):
    # Back triangle at depth 4.5 (colour k) behind a front one at depth 3.5
    # (colour f). Pixel (i=5, j=8) is 0.5 px above the front triangle's top
    # edge y = 6 and covered by the back one: its soft depth is
    # 3.5 + 0.5 * slope, visible iff < 4.5.
    back = _screen_triangle([(-4, -4), (-4, 30), (30, -4)], 4.5)
    front = _screen_triangle([(4, 6), (8, 12), (12, 6)], 3.5)
    k, f = np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0])
    out = ref.render_reference(
        np.concatenate([back, front]), [[0, 1, 2], [3, 4, 5]], height=H,
        width=W, soft_width=1.0, slope=slope,
        attributes=np.array([k, k, k, f, f, f]), background=BG)
    assert out.triangle_id[5, 8] == 0 and out.triangle_id[8, 8] == 1
    np.testing.assert_allclose(out.image[8, 8], f)            # front wins
    expect = 0.5 * f + 0.5 * k if visible else k
    np.testing.assert_allclose(out.image[5, 8], expect, atol=1e-12)
    np.testing.assert_allclose(out.alpha[5, 8], 1.0)

  def test_soft_colour_is_weighted_mean(self):
    # Two triangles left and right of a pixel at distances 0.25 and 0.5.
    # Pixel (i=8, j=8) has centre (8.5, 8.5).
    left = _screen_triangle([(8.25, 2), (8.25, 14), (2, 8)], 4.0)
    right = _screen_triangle([(9.0, 2), (15, 8), (9.0, 14)], 4.0)
    a, b = np.array([1.0, 0, 0]), np.array([0, 1.0, 0])
    out = ref.render_reference(
        np.concatenate([left, right]), [[0, 1, 2], [3, 4, 5]], height=H,
        width=W, soft_width=1.0, attributes=np.array([a, a, a, b, b, b]),
        background=BG)
    wa, wb = 0.75, 0.5
    col = (wa * a + wb * b) / (wa + wb)
    np.testing.assert_allclose(out.alpha[8, 8], 0.75)
    np.testing.assert_allclose(out.image[8, 8], 0.75 * col + 0.25 * 0.25,
                               atol=1e-12)

  def test_uv_texture_sampled_per_contribution(self):
    # Constant UV per triangle => image = texture colour at that UV, both in
    # the crisp interior and in the soft extension.
    tex = np.random.default_rng(0).uniform(size=(4, 4, 3))
    v = _screen_triangle(TRI)
    uv = np.array([[0.3, 0.6]] * 3)
    out = ref.render_reference(v, [[0, 1, 2]], height=H, width=W, uv=uv,
                               texture=tex, background=BG, soft_width=1.0)
    c = ref.sample_bilinear(tex, uv[:1])[0]
    np.testing.assert_allclose(out.image[8, 7], c, atol=1e-12)
    np.testing.assert_allclose(out.image[3, 5], 0.5 * c + 0.5 * 0.25,
                               atol=1e-12)

  @pytest.mark.parametrize('soft', [True, False])
  def test_continuity_in_vertex_position(self, soft):
    # Slide a vertex across pixel centres in steps of 1e-3 px: the corrected
    # soft renderer changes by O(step); the crisp one jumps.
    step = 1e-3
    prev, jumps = None, []
    for k in range(400):
      tri = [(2.0 + k * step * 3, 4.0 + k * step), (12.0, 4.3), (7.0, 12.0)]
      v = _screen_triangle(tri)
      img = ref.render_reference(v, [[0, 1, 2]], height=H, width=W, soft=soft,
                                 attributes=COLS, background=BG).image
      if prev is not None:
        jumps.append(np.abs(img - prev).max())
      prev = img
    if soft:
      assert max(jumps) < 20 * step
    else:
      assert max(jumps) > 0.1

  def test_dropped_triangles(self):
    v = _screen_triangle(TRI)
    good = ref.render_reference(v, [[0, 1, 2]], height=H, width=W,
                                attributes=COLS, background=BG)
    extra = np.array([[0, 0, 10.0], [0.1, 0, 0], [0, 0.1, 0],   # behind cam
                      [np.nan, 0, 0], [0.2, 0, 0], [0, 0.2, 0],  # NaN
                      [0, 0, 0], [0.1, 0.1, 0], [0.2, 0.2, 0]])  # zero area
    out = ref.render_reference(
        np.concatenate([v, extra]), [[0, 1, 2], [3, 4, 5], [6, 7, 8],
                                     [9, 10, 11]], height=H, width=W,
        attributes=np.concatenate([COLS, np.ones((9, 3))]), background=BG)
    np.testing.assert_array_equal(out.kept, [True, False, False, False])
    np.testing.assert_allclose(out.image, good.image)


# ----------------------------------------------------------------------------
# Part 2: gan3d.render against the reference.
# ----------------------------------------------------------------------------

def _render(*args, **kw):
  """`render_mesh`, eagerly: with equal shapes (same H, W, window, F) every
  case reuses the cached per-op executables, much cheaper than one jit
  compilation per RenderSettings."""
  from gan3d import render
  return render.render_mesh(*args, **kw)


def _window_for(h, w):
  """One window for every case (B <= 2), big enough for any triangle here."""
  return int(max(h, w) + 6)


# (seed, soft, texture, B, slope, cull): a covering design over the options.
CASES = [
    (0, True, False, 1.0, 0.0, False),
    (1, True, False, 0.5, 1.0, False),
    (2, True, False, 2.0, 0.0, True),
    (3, True, True, 1.0, 1.0, False),
    (4, True, True, 2.0, 0.0, False),
    (5, True, True, 0.5, 0.0, True),
    (6, False, False, 1.0, 0.0, False),
    (7, False, True, 1.0, 0.0, True),
    (8, True, False, 2.0, 1.0, True),
    (9, True, True, 1.0, 0.0, True),
    (10, True, False, 1.0, 1.0, False),
    (11, False, False, 2.0, 1.0, True),
]


def _run_both(case, dtype, h=H, w=W, num_triangles=16, viewpoint=None,
              jit=False):
  import jax.numpy as jnp
  from gan3d import render
  seed, soft, use_tex, bw, slope, cull = case
  sc = ref.random_scene(seed, num_triangles)
  bg = sc['background_fn'](h, w)
  settings = render.RenderSettings(
      height=h, width=w, soft=soft, soft_width=bw, slope=slope,
      window=_window_for(h, w), camera_distance=D, cull_backfaces=cull)
  kw = (dict(uv=sc['uv'], texture=sc['texture']) if use_tex
        else dict(attributes=sc['attributes']))
  expect = ref.render_reference(sc['vertices'], sc['faces'], settings,
                                background=bg, viewpoint=viewpoint,
                                normals_mode='vertex', **kw)
  cast = lambda x: jnp.asarray(x, dtype)
  # jit=True for a case of its own shapes: one compiled program is cheaper
  # than compiling each of its eager operations.
  render_fn = (jax.jit(functools.partial(render.render_mesh, settings=settings))
               if jit else functools.partial(_render, settings=settings))
  got = render_fn(
      cast(sc['vertices']), jnp.asarray(sc['faces'], jnp.int32),
      background=cast(bg),
      viewpoint=None if viewpoint is None else cast(viewpoint),
      **{k: cast(x) for k, x in kw.items()})
  return expect, got


def _compare(expect, got, atol, min_margin):
  ok = expect.margin > min_margin                        # [H, W]
  assert ok.mean() > 0.8, 'too many pixels near a discrete decision'
  assert int(got.overflow) == 0
  img = np.asarray(got.image, np.float64)
  np.testing.assert_allclose(img[ok], expect.image[ok], atol=atol)
  np.testing.assert_allclose(np.asarray(got.alpha)[ok], expect.alpha[ok],
                             atol=atol)
  np.testing.assert_array_equal(np.asarray(got.mask)[ok], expect.mask[ok])
  np.testing.assert_array_equal(np.asarray(got.triangle_id)[ok],
                                expect.triangle_id[ok])
  np.testing.assert_allclose(np.asarray(got.depth, np.float64)[ok],
                             expect.depth[ok], rtol=atol)
  np.testing.assert_allclose(np.asarray(got.normals, np.float64)[ok],
                             expect.normals[ok], atol=10 * atol)


@pytest.mark.parametrize('case', CASES, ids=[
    'seed{}-{}-{}-B{}-slope{}-{}'.format(c[0], 'soft' if c[1] else 'crisp',
                                         'tex' if c[2] else 'attr', c[3], c[4],
                                         'cull' if c[5] else 'nocull')
    for c in CASES])
def test_matches_reference_float64(case):
  import jax.numpy as jnp
  with jax.enable_x64(True):
    expect, got = _run_both(case, jnp.float64)
    assert got.image.dtype == jnp.float64
    _compare(expect, got, atol=1e-8, min_margin=1e-7)
  # The scenes exercise what they should.
  assert expect.mask.mean() > 0.1 and expect.mask.mean() < 0.95
  if case[1]:
    assert np.any((expect.alpha_soft > 0) & (expect.mask == 1))  # occlusion
    assert np.any((expect.alpha_soft > 0) & (expect.mask == 0))  # silhouette


@pytest.mark.parametrize('case', CASES[2:4], ids=lambda c: f'seed{c[0]}')
def test_matches_reference_float32(case):
  import jax.numpy as jnp
  expect, got = _run_both(case, jnp.float32)
  assert got.image.dtype == jnp.float32
  _compare(expect, got, atol=2e-4, min_margin=1e-3)


@pytest.mark.parametrize('viewpoint', [(0.4, -0.2), (-1.0, 0.3), (3.0, 1.2)])
def test_matches_reference_with_viewpoint(viewpoint):
  import jax.numpy as jnp
  with jax.enable_x64(True):
    expect, got = _run_both((20, True, True, 1.0, 0.0, False), jnp.float64,
                            viewpoint=np.array(viewpoint))
    _compare(expect, got, atol=1e-8, min_margin=1e-7)


def test_matches_reference_non_square():
  import jax.numpy as jnp
  with jax.enable_x64(True):
    expect, got = _run_both((21, True, False, 1.0, 0.0, False), jnp.float64,
                            h=12, w=20, jit=True)
    _compare(expect, got, atol=1e-8, min_margin=1e-7)
