"""The structure-of-arrays pieces of the soft layer and the texture sampler.

`soa.gather_columns` (hand-written VJP: one stacked scatter-add),
`soft.edge_endpoints` and the nearest edge of `soft.closest_point` (the
differentiable soft layer draws each visible pair from that edge alone), and
`texture.sample_bilinear_columns`. The whole soft layer is checked against
the reference renderer in test_render_reference.py and by finite
differences in test_render_grads.py; these tests pin the pieces.
"""

import jax
import jax.numpy as jnp
from jax import test_util as jtu
import numpy as np
import pytest

from gan3d.render import rasterize
from gan3d.render import soa
from gan3d.render import soft as soft_lib
from gan3d.render import texture as texture_lib


@pytest.fixture(autouse=True)
def _x64():
  with jax.enable_x64(True):
    yield


@pytest.mark.parametrize('f,c,m', [(5, 1, 3), (7, 4, 20), (3, 9, 1)])
def test_gather_columns_values_and_gradients(f, c, m):
  rng = np.random.default_rng(f + c + m)
  table = jnp.asarray(rng.normal(size=(f, c)))
  index = jnp.asarray(rng.integers(0, f, m), jnp.int32)   # repeats included
  cols = soa.gather_columns(table, index)
  assert len(cols) == c
  np.testing.assert_array_equal(np.stack(cols, -1), np.asarray(table)[np.asarray(index)])
  weights = jnp.asarray(rng.normal(size=(m, c)))

  def loss(t):   # non-linear so that second derivatives are not trivial
    return jnp.sum(jnp.sin(jnp.stack(soa.gather_columns(t, index), -1)) * weights)

  def plain(t):
    return jnp.sum(jnp.sin(t[index]) * weights)

  np.testing.assert_allclose(jax.grad(loss)(table), jax.grad(plain)(table), rtol=1e-12)
  jtu.check_grads(loss, (table,), order=2, modes=['rev'])


def test_gather_columns_under_vmap_equals_loop():
  rng = np.random.default_rng(0)
  tables = jnp.asarray(rng.normal(size=(3, 6, 2)))
  index = jnp.asarray(rng.integers(0, 6, (3, 10)), jnp.int32)
  loss = lambda t, i: jnp.sum(jnp.stack(soa.gather_columns(t, i), -1) ** 3)
  batched = jax.vmap(jax.grad(loss))(tables, index)
  for b in range(3):
    np.testing.assert_allclose(batched[b], jax.grad(loss)(tables[b], index[b]), rtol=1e-12)


def test_gather_columns_rejects_a_non_table():
  with pytest.raises(ValueError, match=r'\[F, C\]'):
    soa.gather_columns(jnp.zeros((4,)), jnp.zeros((2,), jnp.int32))


def test_edge_endpoints():
  rng = np.random.default_rng(1)
  faces = jnp.asarray(rng.integers(0, 50, (11, 3)), jnp.int32)
  tri = jnp.asarray(rng.integers(0, 11, 40), jnp.int32)
  edge = jnp.asarray(rng.integers(0, 3, 40), jnp.int32)
  a, b = soft_lib.edge_endpoints(faces, tri, edge)
  f, t, e = np.asarray(faces), np.asarray(tri), np.asarray(edge)
  np.testing.assert_array_equal(a, f[t, e])
  np.testing.assert_array_equal(b, f[t, (e + 1) % 3])


def test_nearest_edge_gives_the_distance_and_closest_point():
  """For points outside a triangle, the segment of the returned edge is at
  distance d, and the barycentrics are (1 - t, t) on its end points."""
  rng = np.random.default_rng(2)
  tri = rng.uniform(0, 4, (200, 3, 2))
  p = rng.uniform(-2, 6, (200, 2))
  d, bary, edge = soft_lib.closest_point(jnp.asarray(p[:, 0]), jnp.asarray(p[:, 1]),
                                         jnp.asarray(tri))
  d, bary, edge = np.asarray(d), np.stack([np.asarray(b) for b in bary], -1), np.asarray(edge)
  outside = d > 0
  assert outside.sum() > 100
  for i in np.nonzero(outside)[0]:
    k = edge[i]
    a, b = tri[i, k], tri[i, (k + 1) % 3]
    t = np.clip(np.dot(p[i] - a, b - a) / np.dot(b - a, b - a), 0, 1)
    assert abs(np.linalg.norm(p[i] - (a + t * (b - a))) - d[i]) < 1e-9
    # the edge found is a nearest one
    dists = []
    for j in range(3):
      a2, b2 = tri[i, j], tri[i, (j + 1) % 3]
      t2 = np.clip(np.dot(p[i] - a2, b2 - a2) / np.dot(b2 - a2, b2 - a2), 0, 1)
      dists.append(np.linalg.norm(p[i] - (a2 + t2 * (b2 - a2))))
    assert d[i] <= min(dists) + 1e-9
    np.testing.assert_allclose(bary[i, k], 1 - t, atol=1e-9)
    np.testing.assert_allclose(bary[i, (k + 1) % 3], t, atol=1e-9)
    np.testing.assert_allclose(bary[i, (k + 2) % 3], 0, atol=1e-12)


def test_sample_bilinear_columns_equals_sample_bilinear():
  rng = np.random.default_rng(3)
  tex = jnp.asarray(rng.normal(size=(5, 7, 3)))
  uv = jnp.asarray(rng.uniform(-0.2, 1.2, (30, 2)))   # edge clamping included
  cols = texture_lib.sample_bilinear_columns(tex, uv[:, 0], uv[:, 1])
  np.testing.assert_allclose(np.stack(cols, -1), texture_lib.sample_bilinear(tex, uv), rtol=1e-12)
  # Its own gradients by finite differences (texture and UV, second order).
  u, v = uv[:, 0], uv[:, 1]
  loss = lambda t, u, v: sum(jnp.sum(jnp.cos(c)) for c in
                             texture_lib.sample_bilinear_columns(t, u, v))
  jtu.check_grads(loss, (tex, u, v), order=2, modes=['rev'], eps=1e-6)


def test_pixel_centres_of_pairs():
  x, y = rasterize.pixel_centres(jnp.asarray([0, 5, 7]), 4, jnp.float64)
  np.testing.assert_array_equal(x, [0.5, 1.5, 3.5])
  np.testing.assert_array_equal(y, [0.5, 1.5, 1.5])


def _edge_kernel_plain(perspective, px, py, xa, ya, za, xb, yb, zb):
  """The edge kernel straight from its definition, left to autodiff."""
  ex, ey = xb - xa, yb - ya
  t = jnp.clip(((px - xa) * ex + (py - ya) * ey) / (ex * ex + ey * ey), 0, 1)
  d = jnp.sqrt((px - xa - t * ex) ** 2 + (py - ya - t * ey) ** 2)
  if perspective:
    qa, qb = (1 - t) / za, t / zb
    return d, qa / (qa + qb)
  return d, 1 - t


@pytest.mark.parametrize('perspective', [True, False])
def test_edge_kernel_matches_autodiff_of_its_definition(perspective):
  """Values and the hand-written VJP against autodiff of the plain formula,
  on points whose closest point is inside the segment and at either end
  (t clamped); then finite differences to second order."""
  rng = np.random.default_rng(4)
  m = 64
  a = rng.uniform(0, 3, (m, 2))
  b = a + rng.uniform(-2, 2, (m, 2))
  p = rng.uniform(-2, 5, (m, 2))
  z = rng.uniform(2, 5, (m, 2))
  args = tuple(jnp.asarray(x) for x in (p[:, 0], p[:, 1], a[:, 0], a[:, 1], z[:, 0],
                                        b[:, 0], b[:, 1], z[:, 1]))
  t = np.sum((p - a) * (b - a), 1) / np.sum((b - a) ** 2, 1)
  assert (t < 0).sum() > 5 and (t > 1).sum() > 5 and ((t > 0) & (t < 1)).sum() > 5
  got = soft_lib.edge_kernel(perspective, *args)
  want = _edge_kernel_plain(perspective, *args)
  for g, w in zip(got, want):
    np.testing.assert_allclose(g, w, rtol=1e-12)
  cd, cw = jnp.asarray(rng.normal(size=m)), jnp.asarray(rng.normal(size=m))
  loss = lambda f: lambda *x: jnp.sum(f(perspective, *x)[0] * cd + f(perspective, *x)[1] * cw)
  argnums = tuple(range(2, 8))    # the end points (pixel centres are constants)
  g_hand = jax.grad(loss(soft_lib.edge_kernel), argnums)(*args)
  g_auto = jax.grad(loss(_edge_kernel_plain), argnums)(*args)
  for gh, ga in zip(g_hand, g_auto):
    np.testing.assert_allclose(gh, ga, rtol=1e-9, atol=1e-12)
  ends = lambda *e: loss(soft_lib.edge_kernel)(args[0], args[1], *e)
  jtu.check_grads(ends, args[2:], order=2, modes=['rev'], eps=1e-6)


@pytest.mark.parametrize('shape', [(5, 7, 3), (1, 1, 2), (2, 3, 1), (1, 4, 2)])
def test_quad_texture_vjp_equals_autodiff_of_its_definition(shape):
  """`texture._quad` has a hand-written transpose (edge padding folded back
  onto the border texels); it must equal autodiff of the padded slices, and
  be differentiable again."""
  rng = np.random.default_rng(sum(shape))
  tex = jnp.asarray(rng.normal(size=shape))
  ct = jnp.asarray(rng.normal(size=(shape[0] + 1, shape[1] + 1, 4 * shape[2])))

  def plain(t):
    p = jnp.pad(t, ((1, 1), (1, 1), (0, 0)), mode='edge')
    return jnp.concatenate([p[:-1, :-1], p[:-1, 1:], p[1:, :-1], p[1:, 1:]], -1)

  np.testing.assert_array_equal(texture_lib._quad(tex), plain(tex))
  got = jax.vjp(texture_lib._quad, tex)[1](ct)[0]
  want = jax.vjp(plain, tex)[1](ct)[0]
  np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
  jtu.check_grads(lambda t: jnp.sum(jnp.sin(texture_lib._quad(t)) * ct), (tex,),
                  order=2, modes=['rev'])
