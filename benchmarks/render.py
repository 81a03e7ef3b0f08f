"""Benchmark of gan3d.render: forward and forward+backward time and memory.

Run:  python -m benchmarks.render            (all cases, one subprocess each)
      python -m benchmarks.render --case=128 (one case)
      python -m benchmarks.render --case=128 --profile=10
                 (also: the 10 XLA operations that take longest in a
                 jax.profiler trace of 3 forward+backward calls, with their
                 result shapes and the number of operations fused in them)

Each case renders a batch of textured grid meshes (a bumpy hemisphere from
the N x N shape image, seen from random viewpoints of the paper's prior) with
a 2N x 2N UV texture over a background, jit-compiled float32. Reports ms per
image (median over repeats, after a warm-up), XLA's own estimate of the
compiled program's memory (arguments + outputs + temporaries), the peak
resident memory of the process while the compiled forward+backward runs
for the first time (fwd_bwd_run_rss_mb: jax's runtime and what
compilation left allocated included; Linux only) and just before it
(fwd_bwd_rss_before_mb: the difference is what running adds), the peak
resident memory of the whole process (ru_maxrss, compilation included)
and, on a GPU, the device allocator's peak (device_peak_mb, the whole process's).
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

from absl import app
from absl import flags

CASES = {
    # name: (N, image size, batch, full grid (all 2(N-1)^2 triangles) or disc)
    '64': (64, 64, 16, False),
    '128': (128, 128, 8, True),
    '128disc': (128, 128, 8, False),
}

_CASE = flags.DEFINE_string('case', None, 'run one case: ' + ', '.join(CASES))
_REPEATS = flags.DEFINE_integer('repeats', 10, 'timed repeats per case')
_SOFT_WIDTH = flags.DEFINE_float('soft_width', 1.0, 'B in pixels')
_SLOPE = flags.DEFINE_float('slope', None, 'lambda_slope (eq 9), depth per '
                            'pixel (default: RenderSettings default)')
_WINDOW = flags.DEFINE_integer('window', 4, 'pixel window per triangle')
_PROFILE = flags.DEFINE_integer('profile', 0, 'with --case: print the N most '
                                'expensive operations of the forward+backward')
_BATCH = flags.DEFINE_integer('batch', 0, "batch size (0: the case's own)")
_SPP = flags.DEFINE_float('soft_pairs_per_pixel', None,
                          'soft-layer pair capacity per pixel (default: '
                          'RenderSettings default; 0 = all window pairs)')


def _mesh(n, full_grid):
  import numpy as np
  from gan3d.render import topology
  if full_grid:
    idx = np.arange(n * n, dtype=np.int32).reshape(n, n)
    a, b, c, d = idx[:-1, :-1], idx[1:, :-1], idx[:-1, 1:], idx[1:, 1:]
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3),
                            np.stack([c, b, d], -1).reshape(-1, 3)])
  else:
    faces = topology.grid_faces(n)
  disc = topology.grid_disc(n, radius=0.9)
  r2 = np.sum(disc[..., :2] ** 2, -1)
  z = np.sqrt(np.maximum(0.81 - r2, 0)) + 0.05 * np.sin(8 * disc[..., 0])
  s = disc.copy()
  s[..., 2] = z
  return s.reshape(-1, 3), faces


def build_case(render, name):
  """The inputs and functions of case `name` for the renderer package
  `render` (``gan3d.render``, or another commit's copy in
  `benchmarks.render_ab`), with this module's flags (--batch, --soft_width,
  --slope, --window, --soft_pairs_per_pixel).

  Returns a dict: settings, batch, triangles, faces ([F, 3] int32), one
  (render one mesh), fwd
  (the batch's images), fwd_bwd (gradients of a loss of them with respect
  to vertices, textures and backgrounds) and args (vertices, textures,
  backgrounds, viewpoints).
  """
  import jax
  import jax.numpy as jnp
  import numpy as np
  n, size, batch, full = CASES[name]
  batch = _BATCH.value or batch
  verts, faces = _mesh(n, full)
  extra = ({} if _SPP.value is None
           else {'soft_pairs_per_pixel': _SPP.value})
  if _SLOPE.value is not None:
    extra['slope'] = _SLOPE.value
  settings = render.RenderSettings(height=size, width=size,
                                   soft_width=_SOFT_WIDTH.value,
                                   window=_WINDOW.value, **extra)
  rng = np.random.default_rng(0)
  vb = jnp.asarray(np.broadcast_to(verts, (batch,) + verts.shape).copy())
  tex = jnp.asarray(rng.uniform(-1, 1, (batch, 2 * n, 2 * n, 3)), jnp.float32)
  bg = jnp.asarray(rng.uniform(-1, 1, (batch, size, size, 3)), jnp.float32)
  vp = render.camera.sample_viewpoints(jax.random.PRNGKey(0), batch)
  uv = jnp.asarray(render.topology.grid_uv(n))
  faces_j = jnp.asarray(faces)

  def one(v, t, b, p):
    return render.render_mesh(v, faces_j, settings=settings, uv=uv,
                              texture=t, background=b, viewpoint=p)

  def fwd(v, t, b, p):
    return jax.vmap(one)(v, t, b, p).image

  def loss(v, t, b, p):
    return jnp.mean(fwd(v, t, b, p) ** 2)

  return {'settings': settings, 'batch': batch, 'triangles': int(len(faces)),
          'faces': faces_j, 'one': one, 'fwd': fwd, 'fwd_bwd': jax.grad(loss, argnums=(0, 1, 2)),
          'args': (vb, tex, bg, vp)}


def xla_mb(compiled):
  """XLA's estimate of a compiled program's memory (arguments + outputs +
  temporaries) in MB, or None where the backend gives none."""
  mem = compiled.memory_analysis()
  if mem is None:
    return None
  total = (mem.argument_size_in_bytes + mem.output_size_in_bytes
           + mem.temp_size_in_bytes)
  return round(total / 2**20, 1)


def run_case(name):
  import jax
  import numpy as np
  from gan3d import render
  case = build_case(render, name)
  settings, batch = case['settings'], case['batch']
  vb, tex, bg, vp = case['args']
  n, size = CASES[name][:2]
  results = {'case': name, 'N': n, 'image': size, 'batch': batch,
             'triangles': case['triangles'], 'soft_width': settings.soft_width,
             'slope': settings.slope,
             'window': settings.window, 'device': jax.devices()[0].device_kind,
             'soft_pairs_per_pixel': settings.soft_pairs_per_pixel}
  # Memory first, before anything else has run (freed buffers stay with
  # the process's allocator and would hide what a run adds).
  compile = lambda label: jax.jit(case[label]).lower(vb, tex, bg, vp).compile()
  programs = {'fwd_bwd': compile('fwd_bwd')}
  rss = run_peak_rss_mb(programs['fwd_bwd'], (vb, tex, bg, vp))
  if rss is not None:
    results['fwd_bwd_rss_before_mb'], results['fwd_bwd_run_rss_mb'] = rss
  probe = jax.jit(jax.vmap(case['one']))(vb, tex, bg, vp)
  results['overflow'] = int(probe.overflow.max())
  results['soft_overflow'] = int(probe.soft_overflow.max())
  for label in ('fwd', 'fwd_bwd'):
    compiled = programs.get(label) or compile(label)
    mb = xla_mb(compiled)
    if mb is not None:
      results[label + '_xla_mb'] = mb
    jax.block_until_ready(compiled(vb, tex, bg, vp))
    times = []
    for _ in range(_REPEATS.value):
      t0 = time.perf_counter()
      jax.block_until_ready(compiled(vb, tex, bg, vp))
      times.append(time.perf_counter() - t0)
    results[label + '_ms_per_image'] = round(
        1000 * float(np.median(times)) / batch, 2)
  results['peak_rss_mb'] = round(
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
  stats = jax.devices()[0].memory_stats() or {}
  if 'peak_bytes_in_use' in stats:        # accelerators: the allocator's peak
    results['device_peak_mb'] = round(stats['peak_bytes_in_use'] / 2**20, 1)
  if _PROFILE.value:
    results['profile'] = profile_top(compiled, (vb, tex, bg, vp), _PROFILE.value)
  return results


def _proc_status_mb(key):
  with open('/proc/self/status') as f:
    for line in f:
      if line.startswith(key + ':'):
        return round(int(line.split()[1]) / 1024, 1)
  return None


def run_peak_rss_mb(fn, args, calls=3):
  """(resident memory before, peak resident memory while ``fn(*args)`` runs
  ``calls`` times), MB, of the whole process, compilation excluded (Linux:
  the high-water mark VmHWM, reset by writing 5 to /proc/self/clear_refs);
  None where that is not available. Both include jax's runtime and what
  compilation left allocated; the difference is what running adds."""
  import jax
  try:
    with open('/proc/self/clear_refs', 'w') as f:
      f.write('5')
  except OSError:
    return None
  before = _proc_status_mb('VmRSS')
  for _ in range(calls):
    jax.block_until_ready(fn(*args))
  peak = _proc_status_mb('VmHWM')
  return None if before is None or peak is None else (before, peak)


def profile_top(compiled, args, top, calls=3):
  """The ``top`` operations of a jax.profiler trace of ``calls`` calls.

  Returns {'ms_per_call', 'operations' (distinct XLA operations seen),
  'top': [(name, ms per call, share of the call's time, result shape,
  operations inside the fusion)]}, most expensive first. The fusion size
  shows where XLA evaluated a long elementwise chain inside one consumer.
  """
  import collections
  import glob
  import gzip
  import re
  import tempfile
  import jax
  with tempfile.TemporaryDirectory() as d:
    t0 = time.perf_counter()
    with jax.profiler.trace(d):
      for _ in range(calls):
        jax.block_until_ready(compiled(*args))
    per_call = (time.perf_counter() - t0) / calls * 1000
    (path,) = glob.glob(os.path.join(d, '**', '*.trace.json.gz'), recursive=True)
    with gzip.open(path) as fh:
      events = json.load(fh)['traceEvents']
  ms = collections.Counter()
  for e in events:
    name = e.get('name', '')
    # Operation-level events only (not the executor's enclosing spans).
    if e.get('ph') == 'X' and 'dur' in e and not name.startswith(
        ('Thunk', '$', 'Pjit', 'Execute', 'Common')):
      ms[name] += e['dur'] / 1000 / calls
  hlo = compiled.as_text()
  shapes, calls_of, sizes = {}, {}, {}
  for line in hlo.splitlines():
    m = re.match(r'\s*(?:ROOT )?%(\S+) = (\S+) \w+\(', line)
    if m:
      shapes[m.group(1)] = m.group(2)
      called = re.search(r'calls=%([\w.-]+)', line)
      if called:
        calls_of[m.group(1)] = called.group(1)
  for m in re.finditer(r'\n%([\w.-]+) [^\n]*\{\n(.*?)\n\}', hlo, re.S):
    sizes[m.group(1)] = m.group(2).count('\n') + 1
  rows = [(name, round(t, 2), round(t / per_call, 3), shapes.get(name, ''),
           sizes.get(calls_of.get(name, ''), 0)) for name, t in ms.most_common(top)]
  return {'ms_per_call': round(per_call, 1), 'operations': len(ms), 'top': rows}


def main(argv):
  del argv
  if _CASE.value:
    result = run_case(_CASE.value)
    if 'profile' in result:
      prof = result['profile']
      print(f"forward+backward: {prof['ms_per_call']} ms per call (traced), "
            f"{prof['operations']} distinct XLA operations; the largest:")
      for name, t, share, shape, size in prof['top']:
        print(f'  {t:9.2f} ms {100 * share:5.1f}%  {name:32s} {shape:34s} '
              f'{size or ""}')
    print(json.dumps(result))
    return
  rows = []
  for name in CASES:
    cmd = [sys.executable, '-m', 'benchmarks.render', f'--case={name}',
           f'--repeats={_REPEATS.value}', f'--soft_width={_SOFT_WIDTH.value}',
           f'--window={_WINDOW.value}', f'--batch={_BATCH.value}']
    if _SPP.value is not None:
      cmd.append(f'--soft_pairs_per_pixel={_SPP.value}')
    if _SLOPE.value is not None:
      cmd.append(f'--slope={_SLOPE.value}')
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env=dict(os.environ))
    rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
  cols = ['case', 'triangles', 'image', 'batch', 'fwd_ms_per_image',
          'fwd_bwd_ms_per_image', 'fwd_xla_mb', 'fwd_bwd_xla_mb',
          'fwd_bwd_rss_before_mb', 'fwd_bwd_run_rss_mb', 'peak_rss_mb',
          'device_peak_mb', 'overflow', 'soft_overflow',
          'soft_pairs_per_pixel', 'device']
  print('| ' + ' | '.join(cols) + ' |')
  print('|' + '---|' * len(cols))
  for r in rows:
    print('| ' + ' | '.join(str(r.get(c, '')) for c in cols) + ' |')


if __name__ == '__main__':
  app.run(main)
