r"""Fit one synthetic face from its own photos, paired, through G's render path.

A diagnostic for the lit generator's lean (README "Results"): does the render
path that training uses (shape image -> mesh -> optional Lambert shading of
the texture (`gan3d.models.lighting.shade_textures`) -> soft renderer ->
composite) recover a face's relief when the supervision is paired, i.e.
without a discriminator? If it does, a lean learned in training comes from
the adversarial objective, not from the renderer's or the shading's
gradients.

It takes test face ``--face`` of the configured synthetic data (its shape,
texture and background; `gan3d.data.synthetic.photos_of`), photographs it at
``--views`` viewpoints and lights drawn like the data set's, and fits a free
shape image (an offset from the config's base surface, ``model.shape_param``
/ ``base_radius`` / ...; mirror-symmetrised if ``model.shape_symmetry``) and
a free ``[2N, 2N, 3]`` texture to them with Adam and a mean squared error,
``--batch`` photos per step, the true background given. With
``--config.light.model=camera`` the texture is an albedo shaded by each
photo's own light (known, as in a paired fit); with ``none`` it must hold the
shading itself (the paper's generator). Every ``--steps/6`` steps it prints,
at the canonical view (yaw = pitch = 0, crisp, N x N pixels, on the pixels
both cover): the depth's mean absolute error after removing the mean offset,
the mean angle between the fitted and the true normals, and the mean normal's
y (the lean: + up) over the face and inside the central disc r < 0.3 N, with
the true face's values beside them.

Run (data and prior lit 45 degrees from above, the sphere-cap start):
  python -m benchmarks.photometric_fit --config=configs/synthetic.py \
      --config.data.synthetic.light_tilt_deg=45 --config.light.tilt_deg=45 \
      --config.light.model=camera --config.model.shape_param=offset_paraboloid \
      --config.model.base_radius=0.8 --steps=1200
"""
from __future__ import annotations

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
from ml_collections import config_flags
import numpy as np
import optax

from benchmarks import shape_compare
from gan3d import render
from gan3d import representation
from gan3d.data import synthetic
from gan3d.models import generator
from gan3d.models import lighting
from gan3d.render import topology

_CONFIG = config_flags.DEFINE_config_file('config', 'configs/synthetic.py', 'run config')
_FACE = flags.DEFINE_integer('face', 0, 'test-split face index')
_VIEWS = flags.DEFINE_integer('views', 64, 'photos of the face (views and lights)')
_BATCH = flags.DEFINE_integer('batch', 8, 'photos per step')
_STEPS = flags.DEFINE_integer('steps', 1200, 'Adam steps')
_LR = flags.DEFINE_float('lr', 3e-3, 'Adam learning rate')
_SEED = flags.DEFINE_integer('seed', 0, 'seed of the views, lights and batches')


def base_shape_image(config, n: int) -> jax.Array:
  """The start ``[n, n, 3]``: ``build_shape_image`` of zero raw offsets."""
  levels = int(config.model.shape_pyramid_levels)
  return representation.build_shape_image(jnp.zeros((1, n, n, 3 * levels)), config.model)[0]


def main(argv):
  del argv
  config = _CONFIG.value
  spec = synthetic.spec_from_config(config)
  n = spec.resolution
  lit = lighting.light_model(config) == 'camera'
  m = int(_VIEWS.value)
  if not 1 <= _BATCH.value <= m:
    raise ValueError(f'--batch={_BATCH.value}: must be in [1, --views={m}]')
  face_key = synthetic.example_keys(int(config.data.synthetic.seed), 'test',
                                    np.array([_FACE.value]))[0]
  rng = jax.random.PRNGKey(_SEED.value)
  u = jax.random.uniform(jax.random.fold_in(rng, 0), (m, 5))
  photos = synthetic.photos_of(face_key, spec, u) * 2.0 - 1.0
  views, lights, ambients = jax.vmap(lambda ui: synthetic.view_and_light(spec, ui))(u)
  scene = synthetic.face_scene(face_key, spec)
  background = scene[4] * 2.0 - 1.0
  settings = generator.render_settings(config, n)   # n x n: no supersampling
  faces = jnp.asarray(topology.grid_faces(n), jnp.int32)
  uv = jnp.asarray(topology.grid_uv(n), jnp.float32)
  base = base_shape_image(config, n)
  symmetric = bool(config.model.get('shape_symmetry', False))

  def vertices_of(params):
    s = base + params['offset']
    if symmetric:
      s = representation.mirror_symmetrize(s[None])[0]
    return topology.shape_image_to_vertices(s)

  def render_one(params, view, light, ambient):
    vertices = vertices_of(params)
    texture = params['texture'][None]
    if lit:
      texture = lighting.shade_textures(
          texture, vertices[None], faces, view[None],
          jnp.concatenate([light, ambient[None]])[None], settings.camera_distance)
    return render.render_mesh(vertices, faces, settings=settings, uv=uv, texture=texture[0],
                              background=background, viewpoint=view).image

  def loss(params, idx):
    images = jax.vmap(render_one, in_axes=(None, 0, 0, 0))(
        params, views[idx], lights[idx], ambients[idx])
    return jnp.mean((images - photos[idx]) ** 2)

  optimiser = optax.adam(_LR.value)

  @jax.jit
  def step(params, opt_state, key):
    idx = jax.random.choice(key, m, (_BATCH.value,), replace=False)
    value, grads = jax.value_and_grad(loss)(params, idx)
    updates, opt_state = optimiser.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, value

  truth = shape_compare.canonical(scene[0], scene[1], n, spec.camera_distance)
  params = dict(offset=jnp.zeros((n, n, 3)), texture=jnp.zeros((2 * n, 2 * n, 3)))
  opt_state = optimiser.init(params)
  every = max(1, _STEPS.value // 6)
  print(f'face {_FACE.value}, {m} photos, {"lit (known lights)" if lit else "unlit"} texture, '
        f'start {config.model.shape_param}')
  recent = []
  for it in range(_STEPS.value + 1):
    if it:
      params, opt_state, value = step(params, opt_state, jax.random.fold_in(rng, it))
      recent.append(float(value))
    if it % every == 0:
      fit = shape_compare.canonical(vertices_of(params), faces, n, spec.camera_distance)
      r = shape_compare.compare(fit, truth)
      mse = f'{np.mean(recent):.5f}' if recent else '-'
      recent = []
      print(f'step {it:5d}  mse {mse}  pixels {r["pixels"]} ({r["true_pixels"]})  '
            f'depth MAE {r["depth_mae"]:.4f}  normal {r["normal_deg"]:.1f} deg  '
            f'lean {r["lean"]:+.3f} ({r["true_lean"]:+.3f})  '
            f'centre {r["centre"]:+.3f} ({r["true_centre"]:+.3f})', flush=True)


if __name__ == '__main__':
  app.run(main)
