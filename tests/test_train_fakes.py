"""Test-only stand-ins for `gan3d.models` and `gan3d.data` (no tests here).

The real networks + renderer take minutes to compile on a loaded 2-core CPU,
too slow for the default suite's many runs of the training machinery (resume,
signals, device counts, processes). These fakes follow the same contracts
(docs/interfaces.md: ``generate`` returns images and a scene with ``w``,
``vertices``, ``faces``, ``normals``, ``alpha``, ``texture``, ``background``, ``overflow``,
``soft_overflow``; ``discriminate`` couples
the samples of a batch like the minibatch-stddev layer) and compile in
seconds. `install(monkeypatch)` swaps them in; the real models run in the
tests marked slow.

Run as a script, this module is the child process of the multi-device and
multi-process tests: ``python tests/test_train_fakes.py MODE ARGS``.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Optional

import numpy as np

# ---------------------------------------------------------------------------
# Fake networks (small dense nets; jax imported lazily for the child mode).


def _jax():
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  return jax, jnp


def init_generators(rng, config):
  jax, jnp = _jax()
  n, zd, wd = int(config.resolution), int(config.model.z_dim), int(config.model.w_dim)
  k = jax.random.split(rng, 4)
  def gen(k1, k2, out):
    return {'mapping': {'w': jax.random.normal(k1, (zd, wd)) / np.sqrt(zd)},
            'synthesis': {'w': jax.random.normal(k2, (wd, out)) / np.sqrt(wd),
                          'b': jnp.zeros((out,))}}
  return {'object': gen(k[0], k[1], n * n * 6),
          'background': gen(k[2], k[3], n * n * 3)}


def init_w_avg(config):
  _, jnp = _jax()
  return {g: jnp.zeros((int(config.model.w_dim),)) for g in ('object', 'background')}


def map_latents(params, z_o, z_b, rng, config, *, truncation_psi=1.0,
                w_avg=None, mixing=False):
  jax, jnp = _jax()
  ws, w_raw = {}, {}
  for i, (g, z) in enumerate((('object', z_o), ('background', z_b))):
    w = jnp.tanh(z @ params[g]['mapping']['w'])
    w_raw[g] = w
    wl = w[:, None, :].repeat(2, axis=1)                 # [B, 2, w_dim]
    if mixing:
      k = jax.random.fold_in(rng, i)
      w2 = jnp.tanh(jax.random.normal(k, z.shape) @ params[g]['mapping']['w'])
      mix = jax.random.uniform(jax.random.fold_in(k, 1), (z.shape[0], 1)) < \
          config.model.style_mixing_prob
      wl = wl.at[:, 1].set(jnp.where(mix, w2, w))
    if truncation_psi != 1.0:
      wl = w_avg[g] + (wl - w_avg[g]) * truncation_psi
    ws[g] = wl
  return ws, w_raw


def generate_from_ws(params, ws, viewpoint, noise_rng, crop_rng, config, *,
                     stage_res=None, fade_alpha=1.0, noise=True, light=None,
                     geometry_maps=True):
  del geometry_maps   # the fake's maps cost nothing: always there
  jax, jnp = _jax()
  n = int(config.resolution)
  b = viewpoint.shape[0]
  def synth(g, out_shape):
    p = params[g]['synthesis']
    h = ws[g].mean(axis=1) @ p['w'] + p['b']
    return h.reshape((b,) + out_shape)
  obj = synth('object', (n, n, 6))
  if noise:
    obj = obj + 0.1 * jax.random.normal(noise_rng, obj.shape)
  bg = jnp.tanh(synth('background', (n, n, 3)))
  bg = jnp.roll(bg, jax.random.randint(crop_rng, (), 0, n), axis=1)
  shape, tex = jnp.tanh(obj[..., :3]), jnp.tanh(obj[..., 3:])
  yaw = viewpoint[:, 0][:, None, None, None]
  alpha = jax.nn.sigmoid(4 * shape[..., 2:3] * jnp.cos(yaw))
  if light is not None:       # a Lambert-like factor in [ambient, 1]
    amb = light[:, 3][:, None, None, None]
    tex = (tex + 1) * (amb + (1 - amb) * light[:, 2][:, None, None, None]) - 1
  images = alpha * tex + (1 - alpha) * bg
  normals = shape / jnp.linalg.norm(shape + 1e-3, axis=-1, keepdims=True)
  texture = jnp.repeat(jnp.repeat(tex, 2, axis=1), 2, axis=2)
  no_overflow = jnp.zeros(images.shape[:1], jnp.int32)   # nothing is rasterized
  from gan3d.render import topology  # pylint: disable=g-import-not-at-top
  scene = dict(shape_image=shape, vertices=shape.reshape(b, n * n, 3),
               faces=jnp.asarray(topology.grid_faces(n), jnp.int32),
               texture=texture, background=bg,
               alpha=alpha[..., 0], depth=shape[..., 2], normals=normals, ws=ws,
               overflow=no_overflow, soft_overflow=no_overflow)
  return images, scene


def generate(params, z_o, z_b, viewpoint, rng, config, *, truncation_psi=1.0,
             w_avg=None, mixing=False, stage_res=None, fade_alpha=1.0, noise=True,
             light=None, geometry_maps=True):
  jax, _ = _jax()
  k_map, k_noise, k_crop = (jax.random.fold_in(rng, i) for i in range(3))
  ws, w = map_latents(params, z_o, z_b, k_map, config,
                      truncation_psi=truncation_psi, w_avg=w_avg, mixing=mixing)
  images, scene = generate_from_ws(params, ws, viewpoint, k_noise, k_crop, config,
                                   stage_res=stage_res, fade_alpha=fade_alpha,
                                   noise=noise, light=light,
                                   geometry_maps=geometry_maps)
  scene['w'] = w
  return images, scene


def init_discriminator(rng, config):
  jax, jnp = _jax()
  n = int(config.resolution)
  k1, k2 = jax.random.split(rng)
  return {'w1': jax.random.normal(k1, (n * n * 3 + 1, 16)) / np.sqrt(n * n * 3),
          'w2': jax.random.normal(k2, (16,)) / 4.0, 'b1': jnp.zeros((16,))}


def discriminate(d_params, images, config, *, stage_res=None, fade_alpha=1.0):
  jax, jnp = _jax()
  b = images.shape[0]
  x = images.reshape(b, -1)
  mbstd = jnp.broadcast_to(jnp.sqrt(jnp.var(x, axis=0) + 1e-8).mean(), (b, 1))
  h = jax.nn.leaky_relu(jnp.concatenate([x, mbstd], 1) @ d_params['w1'] + d_params['b1'], 0.2)
  return h @ d_params['w2']


# ---------------------------------------------------------------------------
# Fake data: a deterministic stream of the *global* batch, sliced per process.

# Step (batch count) at which the fake iterator sends SIGTERM to this process.
SIGTERM_AT: Optional[int] = None


def make_train_iterator(config, process_index=0, process_count=1):
  b = int(config.train.batch_size)
  n = int(config.resolution)
  per = b // process_count
  count = 0
  while True:
    rs = np.random.RandomState([int(config.seed), count])
    images = np.tanh(rs.normal(size=(b, n, n, 3))).astype(np.float32)
    if SIGTERM_AT is not None and count == SIGTERM_AT:
      os.kill(os.getpid(), signal.SIGTERM)
    count += 1
    yield {'image': images[process_index * per:(process_index + 1) * per]}


MODEL_FNS = ('init_generators', 'init_w_avg', 'map_latents', 'generate_from_ws',
             'generate', 'init_discriminator', 'discriminate')


def install(monkeypatch=None):
  """Replaces gan3d.models / gan3d.data functions with the fakes."""
  import gan3d.data  # pylint: disable=g-import-not-at-top
  import gan3d.models  # pylint: disable=g-import-not-at-top
  this = sys.modules[__name__]
  setter = monkeypatch.setattr if monkeypatch else setattr
  for name in MODEL_FNS:
    setter(gan3d.models, name, getattr(this, name), **(
        {'raising': False} if monkeypatch else {}))
  if monkeypatch:
    monkeypatch.setattr(gan3d.data, 'make_train_iterator',
                        lambda *a, **k: this.make_train_iterator(*a, **k),
                        raising=False)
  else:
    gan3d.data.make_train_iterator = this.make_train_iterator


def fake_config(arg='tiny'):
  from configs import synthetic  # pylint: disable=g-import-not-at-top
  c = synthetic.get_config(arg)
  c.resolution = 8
  c.train.batch_size = 4
  return c


# ---------------------------------------------------------------------------
# Child-process entry points.


def _child_one_step(out_path: str):
  """One train step of the fake model on all devices; saves the new params."""
  import jax  # pylint: disable=g-import-not-at-top
  from gan3d import distributed, state as state_lib, train_step  # pylint: disable=g-import-not-at-top
  install()
  c = fake_config()
  c.train.batch_size = 4
  mesh = distributed.make_mesh()
  st = jax.jit(lambda k: state_lib.create_train_state(c, k),
               out_shardings=distributed.replicated(mesh))(jax.random.PRNGKey(0))
  step = train_step.make_train_step(c, mesh)
  batch = next(make_train_iterator(c))
  flat = {}
  for i in range(2):   # step 0 has R1 (r1_interval=2), step 1 has not
    st, metrics = step(st, distributed.global_batch(batch, mesh))
  leaves = jax.tree_util.tree_leaves_with_path(jax.device_get(
      {'g': st.g_params, 'd': st.d_params, 'ema': st.g_ema_params,
       'w_avg': st.w_avg}))
  for path, v in leaves:
    flat[jax.tree_util.keystr(path)] = np.asarray(v)
  flat['__devices'] = np.asarray(jax.device_count())
  for k, v in jax.device_get(metrics).items():
    flat['metric_' + k] = np.asarray(v)
  np.savez(out_path, **flat)


def _child_train(workdir: str, coordinator: str, num_processes: int,
                 process_id: int, steps: int):
  """A multi-process run of train_and_evaluate on the fake model."""
  from gan3d import distributed  # pylint: disable=g-import-not-at-top
  distributed.initialize(coordinator, num_processes, process_id)
  import jax  # pylint: disable=g-import-not-at-top
  from gan3d import train  # pylint: disable=g-import-not-at-top
  install()
  c = fake_config()
  c.train.total_steps = steps
  state = train.train_and_evaluate(c, workdir)
  print(f'process {jax.process_index()} done at step {int(state.step)} '
        f'devices {jax.device_count()}', flush=True)
  jax.distributed.shutdown()


if __name__ == '__main__':
  mode = sys.argv[1]
  if mode == 'one_step':
    _child_one_step(sys.argv[2])
  elif mode == 'train':
    _child_train(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]),
                 int(sys.argv[6]))
  else:
    raise SystemExit(f'unknown mode {mode}')
