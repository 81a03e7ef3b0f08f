"""Why `gan3d.render.indexing` exists: a vmapped scatter against a flat one.

Run:  python -m benchmarks.scatter

Scatter-min of B x P values into B x S slots (the z-buffer of the 128x128
renderer benchmark: B = 8 images, P = 516,128 window pairs, S = 16,384
pixels), jit-compiled float32, in three forms: `jax.vmap` of a plain
``.at[].min`` (XLA gets a batched scatter), one scatter over the flattened
batch written by hand, and `jax.vmap` of `render.indexing.scatter_min` (its
batching rule writes the flat form). Prints the median and minimum ms per
call over interleaved repeats.
"""
from __future__ import annotations

import time

from absl import app
from absl import flags

_REPEATS = flags.DEFINE_integer('repeats', 15, 'timed calls per form')
_BATCH = flags.DEFINE_integer('batch', 8, 'B')
_PAIRS = flags.DEFINE_integer('pairs', 516128, 'P')
_SLOTS = flags.DEFINE_integer('slots', 16384, 'S')


def main(argv):
  del argv
  import jax
  import jax.numpy as jnp
  import numpy as np
  from gan3d.render import indexing
  b, p, s = _BATCH.value, _PAIRS.value, _SLOTS.value
  rng = np.random.default_rng(0)
  index = jnp.asarray(rng.integers(0, s, (b, p)), jnp.int32)
  values = jnp.asarray(rng.uniform(1, 2, (b, p)), jnp.float32)

  def vmapped(i, v):
    return jax.vmap(lambda i, v: jnp.full((s,), jnp.inf).at[i].min(v))(i, v)

  def by_hand(i, v):
    flat = (i + s * jnp.arange(b, dtype=jnp.int32)[:, None]).reshape(-1)
    return jnp.full((b * s,), jnp.inf).at[flat].min(v.reshape(-1)).reshape(b, s)

  def gan3d_rule(i, v):
    return jax.vmap(lambda i, v: indexing.scatter_min(s, i, v, jnp.inf))(i, v)

  forms = {'vmap of .at[].min': vmapped, 'flat, by hand': by_hand,
           'vmap of indexing.scatter_min': gan3d_rule}
  compiled = {k: jax.jit(f).lower(index, values).compile() for k, f in forms.items()}
  ref = compiled['vmap of .at[].min'](index, values)
  for k, c in compiled.items():
    np.testing.assert_array_equal(c(index, values), ref)
  times = {k: [] for k in forms}
  for r in range(_REPEATS.value):
    for k in (list(forms) if r % 2 == 0 else list(forms)[::-1]):
      t0 = time.perf_counter()
      jax.block_until_ready(compiled[k](index, values))
      times[k].append(1000 * (time.perf_counter() - t0))
  print(f'scatter-min of {b} x {p} values into {b} x {s} slots, '
        f'{jax.devices()[0].device_kind}, {_REPEATS.value} calls each:')
  for k, t in times.items():
    print(f'  {k:30s} median {np.median(t):7.2f} ms  min {np.min(t):7.2f} ms')


if __name__ == '__main__':
  app.run(main)
