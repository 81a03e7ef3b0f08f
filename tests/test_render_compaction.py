"""The soft layer's pair compaction (`soft.compact_pairs`).

The differentiable soft layer runs on a list of ceil(soft_pairs_per_pixel *
H * W) visible (triangle, pixel) pairs instead of all F * K^2 window pairs.
With enough capacity this must not change any output or gradient; with too
little, the dropped pairs are counted and everything stays finite.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan3d import render
from gan3d.render import camera
from gan3d.render import soft as soft_lib
from gan3d.render import topology

N = 20          # shape image side: ~600 triangles in the disc, smaller than a pixel
SIZE = 16


def _scene(dtype, seed=0):
  rng = np.random.default_rng(seed)
  disc = topology.grid_disc(N, radius=0.9)
  r2 = np.sum(disc[..., :2] ** 2, -1)
  verts = disc.copy()
  verts[..., 2] = np.sqrt(np.maximum(0.81 - r2, 0.0)) + 0.05 * rng.normal(size=r2.shape)
  faces = topology.grid_faces(N)
  tex = rng.uniform(0, 1, (2 * N, 2 * N, 3))
  bg = rng.uniform(0, 1, (SIZE, SIZE, 3))
  cast = lambda x: jnp.asarray(x, dtype)
  return (cast(verts.reshape(-1, 3)), jnp.asarray(faces, jnp.int32),
          cast(topology.grid_uv(N)), cast(tex), cast(bg))


def _settings(spp, **kw):
  return render.RenderSettings(height=SIZE, width=SIZE, soft_width=1.0, window=4,
                               soft_pairs_per_pixel=spp, **kw)


def _visible_pairs(verts, faces, settings, viewpoint):
  """Visible soft pairs counted from the uncompacted [F, K^2] sets."""
  @jax.jit
  def visible(verts, viewpoint):
    v = camera.to_camera(verts, viewpoint)
    return soft_lib.discrete_passes(
        v, faces, settings, jnp.all(jnp.isfinite(v), -1)).vis
  vis = visible(verts, viewpoint)
  return int(vis.sum()), vis.size


@pytest.mark.parametrize('viewpoint', [(0.0, 0.0), (0.6, -0.2), (-0.7, 0.25)])
def test_compaction_changes_nothing(viewpoint):
  with jax.enable_x64(True):
    verts, faces, uv, tex, bg = _scene(jnp.float64)
    vp = jnp.asarray(viewpoint, jnp.float64)
    compact, full = _settings(12.0), _settings(0.0)
    visible, total = _visible_pairs(verts, faces, compact, vp)
    cap = soft_lib.pair_capacity(compact, total)
    assert cap < total, 'the test must exercise the compacted path'
    assert 0 < visible <= cap
    probe = jnp.asarray(np.random.default_rng(1).normal(size=(SIZE, SIZE, 3)))

    def loss(settings, v, t, b):
      out = render.render_mesh(v, faces, settings=settings, uv=uv, texture=t,
                               background=b, viewpoint=vp)
      return jnp.sum(out.image * probe) + jnp.sum(out.alpha * probe[..., 0]), out

    (l_c, out_c), g_c = jax.jit(jax.value_and_grad(
        lambda *a: loss(compact, *a), (0, 1, 2), has_aux=True))(verts, tex, bg)
    (l_f, out_f), g_f = jax.jit(jax.value_and_grad(
        lambda *a: loss(full, *a), (0, 1, 2), has_aux=True))(verts, tex, bg)
    assert int(out_c.soft_overflow) == 0 and int(out_f.soft_overflow) == 0
    np.testing.assert_allclose(out_c.image, out_f.image, atol=1e-12)
    np.testing.assert_allclose(out_c.alpha, out_f.alpha, atol=1e-12)
    np.testing.assert_allclose(l_c, l_f, rtol=1e-12)
    for a, b in zip(g_c, g_f):
      np.testing.assert_allclose(a, b, atol=1e-10)
    assert float(jnp.abs(g_c[0]).sum()) > 0


def test_too_small_capacity_counts_dropped_pairs():
  verts, faces, uv, tex, bg = _scene(jnp.float32)
  vp = jnp.asarray([0.3, 0.1], jnp.float32)
  settings = _settings(0.5)
  visible, total = _visible_pairs(verts, faces, settings, vp)
  cap = soft_lib.pair_capacity(settings, total)
  assert cap == int(np.ceil(0.5 * SIZE * SIZE)) and visible > cap

  def loss(v, t):
    out = render.render_mesh(v, faces, settings=settings, uv=uv, texture=t,
                             background=bg, viewpoint=vp)
    return jnp.mean(out.image), out

  # Compiled: faster than dispatching the renderer's ops one by one.
  (value, out), grads = jax.jit(jax.value_and_grad(loss, (0, 1), has_aux=True))(verts, tex)
  assert int(out.soft_overflow) == visible - cap
  assert np.isfinite(float(value))
  assert all(bool(jnp.all(jnp.isfinite(g))) for g in grads)
  # The crisp renderer has no soft layer and never drops anything.
  crisp = jax.jit(lambda v: render.render_mesh(
      v, faces, settings=_settings(0.5, soft=False), uv=uv, texture=tex,
      background=bg, viewpoint=vp))(verts)
  assert int(crisp.soft_overflow) == 0


def test_pair_capacity():
  s = _settings(2.0)
  assert soft_lib.pair_capacity(s, 10**6) == 2 * SIZE * SIZE
  assert soft_lib.pair_capacity(s, 100) == 100          # never more than all pairs
  assert soft_lib.pair_capacity(_settings(0.0), 12345) == 12345
  assert soft_lib.pair_capacity(_settings(1e-6), 10**6) == 1


@pytest.mark.parametrize('bad', [-1.0, float('nan'), float('inf')])
def test_bad_capacity_is_rejected(bad):
  with pytest.raises(ValueError, match='soft_pairs_per_pixel'):
    _settings(bad)


def test_batch_matches_loop_without_recompiles():
  import chex
  verts, faces, uv, tex, bg = _scene(jnp.float32)
  settings = _settings(12.0)

  @jax.jit
  @chex.assert_max_traces(n=1)
  def batch(v, t, b, vp):
    f = lambda v, t, b, vp: render.render_mesh(v, faces, settings=settings, uv=uv,
                                               texture=t, background=b, viewpoint=vp)
    return jax.vmap(f)(v, t, b, vp)

  vs = jnp.stack([verts, verts * 0.9])
  vps = jnp.asarray([[0.0, 0.0], [0.5, 0.1]], jnp.float32)
  out = batch(vs, jnp.stack([tex, tex]), jnp.stack([bg, bg]), vps)
  batch(vs * 1.01, jnp.stack([tex, tex]), jnp.stack([bg, bg]), vps)
  # Compiled one at a time (eager float32 can break exact ties differently:
  # at yaw 0 grid vertices fall on pixel centres).
  single = jax.jit(lambda v, vp: render.render_mesh(v, faces, settings=settings, uv=uv,
                                                    texture=tex, background=bg,
                                                    viewpoint=vp))
  for i in range(2):
    one = single(vs[i], vps[i])
    np.testing.assert_allclose(out.image[i], one.image, atol=1e-5)
    assert int(out.soft_overflow[i]) == 0
