r"""Images/s of the full training step, and the cost of 3D.

For each config, times the compiled `gan3d.train_step` (D step + G step + lazy
R1 at its natural interval) and the same step with the renderer replaced by a
plain 2D image head: the generator's texture, average-pooled from 2N to N,
composited over the background crop with a fixed disc mask (no mesh, no
rasterisation; both generators still run). The ratio of the two times is the
cost of 3D.

  python -m benchmarks.train_step                       # synthetic (32), 64
  python -m benchmarks.train_step --configs=synthetic,synthetic64,ffhq128 \
      --batch=4 --steps=5
  python -m benchmarks.train_step --set=model.conv_impl=native   # XLA convs on CPU

Compile time is excluded (first step is a warm-up); the timed steps start at
step 1, so R1 (every r1_interval steps) is included at its usual rate.
"""

from __future__ import annotations

import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

from configs import ffhq128
from configs import synthetic
from gan3d import distributed
from gan3d import state as state_lib
from gan3d import train_step as train_step_lib
from gan3d.models import generator as generator_lib

_CONFIGS = flags.DEFINE_list('configs', ['synthetic', 'synthetic64'],
                             'synthetic | synthetic64 | ffhq128')
_BATCH = flags.DEFINE_integer('batch', 0, 'global batch (0: the config\'s)')
_STEPS = flags.DEFINE_integer('steps', 8, 'timed steps')
_MODES = flags.DEFINE_list('modes', ['3d', '2d'], '3d (renderer) and/or 2d head')
_SET = flags.DEFINE_list('set', [], 'config overrides KEY=VALUE (Python literal), '
                         'e.g. --set=model.conv_impl="\'native\'",model.channel_base=2048')


def apply_overrides(config, items):
  import ast  # pylint: disable=g-import-not-at-top
  for item in items:
    key, _, value = item.partition('=')
    node, *path = key.split('.')
    target = config
    for part in [node] + path[:-1]:
      target = target[part]
    try:
      target[path[-1] if path else node] = ast.literal_eval(value)
    except (ValueError, SyntaxError):
      target[path[-1] if path else node] = value    # a bare string
  return config


def get_config(name: str):
  if name == 'synthetic':
    return synthetic.get_config()
  if name == 'synthetic64':
    c = synthetic.get_config()
    c.resolution = 64
    return c
  if name == 'ffhq128':
    c = ffhq128.get_config()
    c.data.path = 'unused'
    return c
  raise ValueError(f'unknown config {name!r}')


def render_2d(scene: dict, viewpoint: jax.Array, config) -> tuple[jax.Array, dict]:
  """The 2D head: texture ``[B, 2n, 2n, 3]`` pooled to ``[B, n, n, 3]`` and
  composited over the background crop with a fixed disc mask, so that both
  generators (G_o's texture and G_b) stay in the step; only the shape
  channels, the renderer and the pyramid / size constraint drop out."""
  del viewpoint, config
  tex = scene['texture']
  b, h, w, c = tex.shape
  fg = tex.reshape(b, h // 2, 2, w // 2, 2, c).mean((2, 4))
  n = h // 2
  r = (np.arange(n) + 0.5) / n * 2.0 - 1.0
  mask = jnp.asarray((r[None, :] ** 2 + r[:, None] ** 2 <= 0.8 ** 2), fg.dtype)
  images = fg * mask[..., None] + scene['background'] * (1.0 - mask[..., None])
  zeros = jnp.zeros(images.shape[:3], images.dtype)
  no_overflow = jnp.zeros((b,), jnp.int32)       # nothing is rasterized
  return images, dict(scene, alpha=zeros, depth=zeros,
                      normals=jnp.zeros_like(images), overflow=no_overflow,
                      soft_overflow=no_overflow)


def time_step(config, steps: int) -> tuple[float, float]:
  """(compile+first step seconds, mean seconds per timed step)."""
  mesh = distributed.make_mesh()
  state = jax.jit(lambda k: state_lib.create_train_state(config, k),
                  out_shardings=distributed.replicated(mesh))(jax.random.PRNGKey(0))
  step_fn = train_step_lib.make_train_step(config, mesh)
  n, b = int(config.resolution), int(config.train.batch_size)
  rs = np.random.RandomState(0)
  batch = distributed.global_batch(
      {'image': rs.uniform(-1, 1, (b, n, n, 3)).astype(np.float32)}, mesh)
  t0 = time.perf_counter()
  state, m = step_fn(state, batch)
  jax.block_until_ready(m)
  first = time.perf_counter() - t0
  t0 = time.perf_counter()
  for _ in range(steps):
    state, m = step_fn(state, batch)
  jax.block_until_ready((state, m))
  return first, (time.perf_counter() - t0) / steps


def main(argv):
  del argv
  print(f'device: {jax.devices()[0].device_kind} x {jax.device_count()}')
  real_render = generator_lib.render_scene
  for name in _CONFIGS.value:
    config = get_config(name)
    if _BATCH.value:
      config.train.batch_size = _BATCH.value
    apply_overrides(config, _SET.value)
    b = int(config.train.batch_size)
    times = {}
    for mode in _MODES.value:
      generator_lib.render_scene = real_render if mode == '3d' else render_2d
      try:
        first, per_step = time_step(config, _STEPS.value)
      finally:
        generator_lib.render_scene = real_render
      times[mode] = per_step
      print(f'{name:12s} N={config.resolution:3d} batch={b:3d} {mode}: '
            f'{per_step * 1e3:9.1f} ms/step  {b / per_step:8.2f} img/s  '
            f'(compile + first step {first:.0f} s)', flush=True)
    if '3d' in times and '2d' in times:
      print(f'{name:12s} 3D/2D step time ratio: {times["3d"] / times["2d"]:.3f} '
            f'(renderer adds {100 * (times["3d"] / times["2d"] - 1):.1f}%)',
            flush=True)


if __name__ == '__main__':
  app.run(main)
