r"""Where the renderer's time goes: its discrete passes one by one, then the
whole forward and forward+backward, for one case of `benchmarks.render`.

Each line times a jit-compiled, vmapped program that runs `render_mesh`'s
discrete (no-gradient) part up to and including one more pass (so the
differences between lines are the passes' costs):

  setup       camera, triangle set-up, pixel windows
  zbuffer     + the crisp layer's z-buffer and triangle ids (eqs 6-8)
  visibility  + the soft layer's visible pairs (eqs 9-11)
  compaction  + compacting the visible pairs into the static-length list

then the full forward (images) and forward+backward (gradients of a loss of
the images, as `benchmarks.render`). ms per image, median of --repeats
calls after a warm-up.

Run:  python -m benchmarks.render_phases --case=128 --repeats=15
"""
from __future__ import annotations

import functools
import time

from absl import app

from benchmarks import render as render_bench


def _discrete(vertices, viewpoint, faces, settings, stage):
  import jax.numpy as jnp
  from gan3d.render import camera, rasterize, soft as soft_lib  # pylint: disable=g-multiple-import
  v = camera.to_camera(vertices, viewpoint)       # finite: no masking needed
  wp = rasterize.window_pairs(
      v, faces, settings, jnp.all(jnp.isfinite(v), axis=-1))
  if stage == 'setup':
    return jnp.sum(wp.ok), jnp.sum(wp.crisp_ok)
  tri_xy, tri_z, pix, ok = wp.tri_xy, wp.tri_z, wp.pix, wp.ok
  zbuf, tri_id = rasterize.zbuffer(wp.crisp_pix, tri_xy, tri_z, wp.crisp_ok,
                                   settings)
  if stage == 'zbuffer':
    return tri_id
  vis, w, edge = soft_lib.visibility(pix, ok, zbuf, tri_xy, tri_z, settings)
  if stage == 'visibility':
    return jnp.sum(vis), jnp.sum(w), jnp.sum(edge)
  return soft_lib.compact_pairs(pix, vis, w, edge, settings)


def _ms_per_image(fn, args, batch, repeats):
  import jax
  import numpy as np
  jax.block_until_ready(fn(*args))
  times = []
  for _ in range(repeats):
    t = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - t)
  return float(np.median(times)) * 1e3 / batch


def main(argv):
  del argv
  import jax
  import jax.numpy as jnp
  from gan3d import render
  name = render_bench._CASE.value or '128'   # pylint: disable=protected-access
  repeats = render_bench._REPEATS.value      # pylint: disable=protected-access
  case = render_bench.build_case(render, name)
  faces = jnp.asarray(case['faces'], jnp.int32)
  vb, _, _, vp = case['args']
  batch = case['batch']
  print(f'case {name}: {case["triangles"]} triangles, batch {batch}, ms per image')
  for stage in ('setup', 'zbuffer', 'visibility', 'compaction'):
    fn = jax.jit(jax.vmap(functools.partial(_discrete, faces=faces, settings=case['settings'],
                                            stage=stage)))
    print(f'  {stage:<12s}{_ms_per_image(fn, (vb, vp), batch, repeats):8.1f}', flush=True)
  for label, key in (('forward', 'fwd'), ('fwd+bwd', 'fwd_bwd')):
    t = _ms_per_image(jax.jit(case[key]), case['args'], batch, repeats)
    print(f'  {label:<12s}{t:8.1f}', flush=True)


if __name__ == '__main__':
  app.run(main)
