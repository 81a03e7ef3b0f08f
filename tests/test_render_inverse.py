"""Inverse rendering through `gan3d.render`: the smallest form of Fig. 3 b/c.

A grid mesh (`topology.grid_faces`) initialised as a sphere cap facing the
camera is fitted by Adam to images of a different target shape (a wider,
flatter ellipsoid cap with a bump) with the same per-vertex colours, seen from
a few viewpoints over a constant background. With the soft layer the
silhouette carries gradient and the shape error drops substantially; with the
crisp renderer (soft=False) the vertices only feel the colour interpolation
inside triangles, and the error drops clearly less.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest


VIEWPOINTS = np.array([[0.0, 0.0], [0.45, 0.15], [-0.45, -0.15],
                       [0.2, -0.3]], np.float32)


def _grid(n):
  c = (n - 1) / 2
  jj, ii = np.meshgrid(np.arange(n), np.arange(n))
  return (jj - c) / c, -(ii - c) / c                   # x right, y up, [-1, 1]


def sphere_cap(n, radius=0.75):
  x, y = _grid(n)
  x, y = radius * x, radius * y
  z = np.sqrt(np.maximum(radius ** 2 - x ** 2 - y ** 2, 0.0))
  return np.stack([x, y, z], -1).reshape(-1, 3)


def target_shape(n):
  """Wider, flatter ellipsoid cap with a bump: a different silhouette."""
  x, y = _grid(n)
  x, y = 0.92 * x, 0.6 * y
  r2 = (x / 0.92) ** 2 + (y / 0.6) ** 2
  z = 0.45 * np.sqrt(np.maximum(1 - r2, 0.0))
  z = z + 0.25 * np.exp(-((x - 0.3) ** 2 + (y - 0.1) ** 2) / 0.04)
  return np.stack([x, y, z], -1).reshape(-1, 3)


def colours(n):
  x, y = _grid(n)
  return np.stack([0.5 + 0.5 * x, 0.5 + 0.5 * y,
                   0.5 + 0.4 * np.cos(3 * x) * np.sin(3 * y)],
                  -1).reshape(-1, 3)


def fit(n, res, steps, soft, lr=0.01, seed=0):
  """Returns (initial error, final error, loss history)."""
  from gan3d import render
  faces = render.topology.grid_faces(n)
  used = np.unique(faces)
  settings = render.RenderSettings(height=res, width=res, soft=soft,
                                   soft_width=1.0, window=1,
                                   camera_distance=3.0)
  init, target = sphere_cap(n), target_shape(n)
  window = render.suggest_window(np.stack([init, target]), faces, settings,
                                 VIEWPOINTS[:1]) + 2
  import dataclasses
  settings = dataclasses.replace(settings, window=window)
  attrs = jnp.asarray(colours(n), jnp.float32)
  bg = jnp.full((res, res, 3), -0.5, jnp.float32)
  faces_j = jnp.asarray(faces)
  vps = jnp.asarray(VIEWPOINTS)

  def images(v):
    return jax.vmap(lambda vp: render.render_mesh(
        v, faces_j, settings=settings, attributes=attrs, background=bg,
        viewpoint=vp).image)(vps)

  goal = jax.jit(images)(jnp.asarray(target, jnp.float32))

  def loss_fn(v):
    return jnp.mean((images(v) - goal) ** 2)

  opt = optax.adam(lr)

  @jax.jit
  def step(v, state):
    loss, g = jax.value_and_grad(loss_fn)(v)
    updates, state = opt.update(g, state, v)
    return optax.apply_updates(v, updates), state, loss

  v = jnp.asarray(init, jnp.float32)
  state = opt.init(v)
  losses = []
  for _ in range(steps):
    v, state, loss = step(v, state)
    losses.append(float(loss))
  err = lambda x: float(np.mean(np.linalg.norm(
      np.asarray(x)[used] - target[used], axis=-1)))
  assert np.all(np.isfinite(np.asarray(v)))
  return err(init), err(v), losses


def test_soft_fits_shape_crisp_does_not():
  e0, e_soft, l_soft = fit(n=12, res=24, steps=150, soft=True)
  _, e_crisp, l_crisp = fit(n=12, res=24, steps=150, soft=False)
  print(f'shape error: init {e0:.4f} soft {e_soft:.4f} crisp {e_crisp:.4f}; '
        f'loss soft {l_soft[0]:.4f}->{l_soft[-1]:.4f} '
        f'crisp {l_crisp[0]:.4f}->{l_crisp[-1]:.4f}')
  assert e_soft < 0.6 * e0                      # > 40% reduction
  assert (e0 - e_crisp) < 0.5 * (e0 - e_soft)   # crisp: clearly less
  assert l_soft[-1] < 0.5 * l_soft[0]


@pytest.mark.slow
def test_soft_fits_shape_bigger():
  e0, e_soft, _ = fit(n=16, res=32, steps=300, soft=True)
  _, e_crisp, _ = fit(n=16, res=32, steps=300, soft=False)
  print(f'shape error: init {e0:.4f} soft {e_soft:.4f} crisp {e_crisp:.4f}')
  assert e_soft < 0.5 * e0
  assert (e0 - e_crisp) < 0.5 * (e0 - e_soft)
