"""Gradients of `gan3d.render.render_mesh`, float64, against finite differences.

The corrected renderer (renderer-notes.md) is continuous in the vertices and
piecewise smooth: its derivative jumps where a pixel centre crosses a triangle
edge, where d(p, T) crosses B, where the closest point p*(T) switches between
an edge and a vertex, where a UV crosses a texel centre line, and the image
itself jumps where two surfaces swap depth order. The configurations below are
chosen away from depth-order swaps (the occluding triangles are ~1 unit apart
in depth, so no pixel's z-test can flip under an eps = 1e-6 perturbation); the
remaining kinks have measure zero, and `test_scenes_are_away_from_decisions`
checks that every pixel is > 1e-4 px from a discrete decision, so a central
difference of width 2e-6 never straddles one.

Directional checks (the same thing `check_grads(modes=['rev'])` does): for a
random cotangent ct and direction dv, <vjp(ct), dv> of the fast renderer must
equal <ct, (I(v + eps dv) - I(v - eps dv)) / 2 eps> with I the *reference*
renderer, which makes the check independent of the fast forward pass too.

Compilation of the renderer's backward pass dominates the run time on CPU, so
the tests share a few jitted programs (one per settings and input kind) and
both scenes have the same shapes (in `SINGLE` the second triangle is parked
far off-screen, where it draws nothing).
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import reference_renderer as ref


H = W = 12
EPS = 1e-6
FACES = np.array([[0, 1, 2], [3, 4, 5]])


@pytest.fixture(autouse=True)
def _x64():
  with jax.enable_x64(True):
    yield


def _settings(**kw):
  from gan3d import render
  base = dict(height=H, width=W, soft=True, soft_width=1.5, slope=0.5,
              window=H + 6, camera_distance=4.0)
  base.update(kw)
  return render.RenderSettings(**base)


_RNG = np.random.default_rng(1234)
_TRI = np.array([[-0.55, -0.45, 0.1], [0.62, -0.21, -0.2], [0.03, 0.71, 0.3]])
_OFF = np.array([[5.0, 5.0, 0.0], [5.5, 5.0, 0.0], [5.0, 5.5, 0.0]])
_BG = _RNG.uniform(-1, 1, (H, W, 3))
# One triangle over the background (the second one is off-screen).
SINGLE = dict(vertices=np.concatenate([_TRI, _OFF]),
              attributes=_RNG.uniform(-1, 1, (6, 3)), background=_BG)
# A front triangle (z ~ +0.5) partly covering a back one (z ~ -0.5): the soft
# extension of the front edges blends against the back triangle.
PAIR = dict(
    vertices=np.array([[-0.9, -0.8, -0.5], [0.85, -0.7, -0.45],
                       [0.1, 0.9, -0.55],
                       [-0.31, -0.22, 0.5], [0.43, -0.12, 0.45],
                       [0.02, 0.47, 0.55]]),
    attributes=_RNG.uniform(-1, 1, (6, 3)), background=_BG)
SCENES = {'single': SINGLE, 'pair': PAIR}
# UVs away from texel centre lines of the 5 x 6 texture (kinks of bilinear
# sampling: e.g. v = 0.9 sits exactly on the last row's centres).
UV = np.array([[0.13, 0.21], [0.77, 0.33], [0.41, 0.86],
               [0.23, 0.17], [0.36, 0.26], [0.27, 0.38]])
TEXTURE = _RNG.uniform(-1, 1, (5, 6, 3))
VIEWPOINT = np.array([0.05, -0.03])


def _image(settings, textured, v, vals, texture, bg, vp):
  from gan3d import render
  kw = dict(uv=vals, texture=texture) if textured else dict(attributes=vals)
  return render.render_mesh(v, jnp.asarray(FACES, jnp.int32),
                            settings=settings, background=bg, viewpoint=vp,
                            **kw).image


@functools.lru_cache(maxsize=None)
def _fns(settings, textured):
  """(jitted forward, jitted vjp) for all five differentiable inputs."""
  fwd = functools.partial(_image, settings, textured)

  def vjp(ct, *args):
    return jax.vjp(fwd, *args)[1](ct)

  return jax.jit(fwd), jax.jit(vjp)


def _args(scene, textured):
  vals = UV if textured else scene['attributes']
  return [np.asarray(x, np.float64) for x in
          (scene['vertices'], vals, TEXTURE, scene['background'], VIEWPOINT)]


def _reference_image(settings, textured, args):
  v, vals, tex, bg, vp = args
  kw = dict(uv=vals, texture=tex) if textured else dict(attributes=vals)
  return ref.render_reference(v, FACES, settings, background=bg, viewpoint=vp,
                              **kw).image


def _directional_check(settings, textured, args, wrt, seed=0, reps=2):
  """Fast VJP vs central differences of the reference, per input in wrt."""
  rng = np.random.default_rng(seed)
  ct = rng.normal(size=(H, W, 3))
  _, vjp = _fns(settings, textured)
  grads = [np.asarray(g) for g in vjp(jnp.asarray(ct), *map(jnp.asarray, args))]
  for k in wrt:
    assert np.all(np.isfinite(grads[k]))
    for _ in range(reps):
      d = rng.normal(size=args[k].shape)
      plus, minus = list(args), list(args)
      plus[k], minus[k] = args[k] + EPS * d, args[k] - EPS * d
      fd = np.sum(ct * (_reference_image(settings, textured, plus) -
                        _reference_image(settings, textured, minus))) / (2 * EPS)
      np.testing.assert_allclose(np.sum(grads[k] * d), fd, rtol=1e-6,
                                 atol=1e-6, err_msg=f'input {k}')
  return grads


@pytest.mark.parametrize('name', ['single', 'pair'])
def test_scenes_are_away_from_decisions(name):
  settings = _settings()
  for textured in (False, True):
    v, vals, tex, bg, vp = _args(SCENES[name], textured)
    kw = dict(uv=vals, texture=tex) if textured else dict(attributes=vals)
    out = ref.render_reference(v, FACES, settings, background=bg,
                               viewpoint=vp, **kw)
    assert out.margin.min() > 1e-4
    assert np.any((out.alpha_soft > 0) & (out.mask == 0))    # silhouette
    if name == 'pair':
      assert np.any((out.alpha_soft > 0) & (out.mask == 1))  # occlusion
      assert set(np.unique(out.triangle_id)) == {-1, 0, 1}
    else:
      assert set(np.unique(out.triangle_id)) == {-1, 0}
  # The texture is sampled away from its centre lines (the kinks).
  uvs = np.concatenate([UV * [6, 5] - 0.5])
  assert np.abs(uvs - np.round(uvs)).min() > 1e-3


@pytest.mark.parametrize('name', ['single', 'pair'])
def test_grads_attributes(name):
  """Vertices at silhouettes / occlusion edges, attributes, background, view."""
  settings = _settings()
  grads = _directional_check(settings, False, _args(SCENES[name], False),
                             wrt=(0, 1, 3, 4))
  assert np.abs(grads[0][:3]).max() > 1e-2
  if name == 'single':               # the parked triangle draws nothing
    assert np.all(grads[0][3:] == 0) and np.all(grads[1][3:] == 0)


@pytest.mark.parametrize('name', ['single', 'pair'])
def test_grads_texture(name):
  """Vertices, UVs, texture and background with a UV-mapped texture."""
  settings = _settings()
  grads = _directional_check(settings, True, _args(SCENES[name], True),
                             wrt=(0, 1, 2, 3))
  assert np.abs(grads[2]).sum() > 0


@pytest.mark.slow
def test_check_grads_first_order():
  """jax.test_util.check_grads on the fast renderer alone (vertices)."""
  settings = _settings()
  fwd, _ = _fns(settings, False)
  args = _args(PAIR, False)
  f = lambda v: fwd(v, *map(jnp.asarray, args[1:]))
  check_grads(f, (jnp.asarray(args[0]),), order=1, modes=['rev'], eps=EPS,
              atol=1e-6, rtol=1e-5)


def test_background_weight_is_one_minus_alpha():
  settings = _settings()
  args = _args(PAIR, False)
  _, vjp = _fns(settings, False)
  ct = np.zeros((H, W, 3))
  ct[..., 1] = 1.0
  g_bg = np.asarray(vjp(jnp.asarray(ct), *map(jnp.asarray, args))[3])
  v, vals, _, bg, vp = args
  alpha = ref.render_reference(v, FACES, settings, attributes=vals,
                               background=bg, viewpoint=vp).alpha
  np.testing.assert_allclose(g_bg[..., 1], 1 - alpha, atol=1e-10)
  assert np.all(g_bg[..., 0] == 0)


def test_silhouette_gradient_only_with_soft_layer():
  # Constant colour: the crisp image depends on the vertices only through
  # coverage, so its gradient is zero; the soft layer's is not.
  col = np.tile([[0.9, 0.2, -0.4]], (6, 1))
  args = _args(SINGLE, False)
  args[1] = col
  ct = jnp.asarray(np.random.default_rng(3).normal(size=(H, W, 3)))
  g = {s: np.asarray(_fns(_settings(soft=s), False)[1](
      ct, *map(jnp.asarray, args))[0]) for s in (True, False)}
  assert np.abs(g[False]).max() < 1e-12       # round-off only
  assert np.abs(g[True]).max() > 1e-2


@pytest.mark.slow
@pytest.mark.parametrize('bw', [0.5, 1.0, 2.0])
@pytest.mark.parametrize('slope', [0.0, 1.0])
@pytest.mark.parametrize('textured', [False, True])
def test_grads_more_settings(bw, slope, textured):
  settings = _settings(soft_width=bw, slope=slope)
  for name in ('single', 'pair'):
    args = _args(SCENES[name], textured)
    v, vals, tex, bg, vp = args
    kw = dict(uv=vals, texture=tex) if textured else dict(attributes=vals)
    margin = ref.render_reference(v, FACES, settings, background=bg,
                                  viewpoint=vp, **kw).margin
    assert margin.min() > 1e-5
    _directional_check(settings, textured, args, wrt=(0, 1, 2, 3, 4))


@pytest.mark.slow
def test_crisp_texture_grads():
  settings = _settings(soft=False)
  _directional_check(settings, True, _args(PAIR, True), wrt=(0, 1, 2, 3))


def test_second_order():
  """The backward rule is differentiable again (path-length penalty)."""
  from gan3d import render
  settings = _settings(height=6, width=6, window=10, soft_width=1.0)
  bg = jnp.asarray(_BG[:6, :6])
  attrs = jnp.asarray(SINGLE['attributes'][:3])
  f = lambda v: render.render_mesh(v, jnp.asarray([[0, 1, 2]], jnp.int32),
                                   settings=settings, attributes=attrs,
                                   background=bg).image
  margin = ref.render_reference(_TRI, [[0, 1, 2]], settings,
                                attributes=np.asarray(attrs),
                                background=np.asarray(bg)).margin
  assert margin.min() > 1e-4
  check_grads(jax.jit(f), (jnp.asarray(_TRI),), order=2, modes=['rev'],
              eps=EPS, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('outputs', [('image',), ('normals',), ('depth', 'alpha'),
                                     ('image', 'alpha', 'depth', 'normals')])
def test_grads_of_any_subset_of_outputs(outputs):
  """The backward rule differentiates only the outputs that reach the loss
  (the others' cotangents are symbolic zeros): a loss of any subset of the
  outputs has the gradient of finite differences of the same loss, and the
  loss of all four is the sum of the single ones."""
  from gan3d import render
  settings = _settings()
  rng = np.random.default_rng(7)
  probes = {'image': rng.normal(size=(H, W, 3)), 'alpha': rng.normal(size=(H, W)),
            'depth': rng.normal(size=(H, W)), 'normals': rng.normal(size=(H, W, 3))}

  def loss(v, which):
    out = render.render_mesh(v, jnp.asarray(FACES, jnp.int32), settings=settings,
                             attributes=jnp.asarray(PAIR['attributes']),
                             background=jnp.asarray(_BG),
                             viewpoint=jnp.asarray(VIEWPOINT))
    # Depth only where covered (z_far elsewhere is a constant).
    maps = {'image': out.image, 'alpha': out.alpha, 'normals': out.normals,
            'depth': jnp.where(out.mask > 0, out.depth, 0.0)}
    return sum(jnp.sum(maps[k] * probes[k]) for k in which)

  v = jnp.asarray(PAIR['vertices'])
  g = np.asarray(jax.jit(jax.grad(loss), static_argnums=1)(v, outputs))
  assert np.all(np.isfinite(g)) and np.any(g != 0)
  d = rng.normal(size=v.shape)
  fd = (loss(v + EPS * d, outputs) - loss(v - EPS * d, outputs)) / (2 * EPS)
  np.testing.assert_allclose(np.sum(g * d), fd, rtol=1e-5, atol=1e-6)
  if len(outputs) == 4:
    single = sum(np.asarray(jax.grad(loss)(v, (k,))) for k in outputs)
    np.testing.assert_allclose(g, single, rtol=1e-10, atol=1e-12)
