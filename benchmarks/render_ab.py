"""A/B timing of the renderer at two git commits, in one process, interleaved.

Run:  python -m benchmarks.render_ab --a=HEAD --b=WORKTREE --case=128 --repeats=25

This machine's speed drifts by 20-100% between minutes, so timings of two
versions run one after the other (`benchmarks.render` twice) can differ by
more than the change being measured. Here both versions are compiled in the
same process (the ``gan3d`` package of each commit is copied into a temporary
folder under the names ``gan3d_a`` and ``gan3d_b``), and their calls
alternate (a b, b a, a b, ...): the report is each version's median and
minimum ms per image and the median of the paired ratios b / a of calls
made back to back, with its interquartile range. ``--b=WORKTREE`` (or
``--a=WORKTREE``) takes the working tree's uncommitted files. Cases and
inputs are those of `benchmarks.render` (jit, vmap over the batch, float32,
the flags --batch, --soft_width, --window, --soft_pairs_per_pixel as
there).
"""
from __future__ import annotations

import importlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

# --case (default here: 128), --repeats and the case's flags come from
# benchmarks.render.
from benchmarks import render as bench

_A = flags.DEFINE_string('a', 'HEAD', 'commit (or WORKTREE) of version a')
_B = flags.DEFINE_string('b', 'WORKTREE', 'commit (or WORKTREE) of version b')

_ROOT = pathlib.Path(__file__).resolve().parent.parent


def export_package(commit: str, name: str, dest: pathlib.Path) -> None:
  """Writes the gan3d package of `commit` to dest/name, imports renamed."""
  target = dest / name
  if commit == 'WORKTREE':
    shutil.copytree(_ROOT / 'gan3d', target,
                    ignore=shutil.ignore_patterns('__pycache__'))
  else:
    with tempfile.TemporaryDirectory() as tmp:
      archive = subprocess.run(['git', 'archive', commit, 'gan3d'], cwd=_ROOT,
                               check=True, capture_output=True).stdout
      subprocess.run(['tar', '-x', '-C', tmp], input=archive, check=True)
      shutil.copytree(pathlib.Path(tmp) / 'gan3d', target)
  for path in target.rglob('*.py'):
    text = path.read_text()
    text = re.sub(r'\bgan3d\b', name, text)
    path.write_text(text)


def main(argv):
  del argv
  import jax
  import jax.numpy as jnp
  import numpy as np
  name = bench._CASE.value or '128'     # pylint: disable=protected-access
  repeats = bench._REPEATS.value        # pylint: disable=protected-access
  tmp = pathlib.Path(tempfile.mkdtemp(prefix='render_ab_'))
  sys.path.insert(0, str(tmp))
  compiled, grads = {}, {}
  try:
    for key, commit in (('a', _A.value), ('b', _B.value)):
      export_package(commit, f'gan3d_{key}', tmp)
      case = bench.build_case(
          importlib.import_module(f'gan3d_{key}.render'), name)
      batch, args = case['batch'], case['args']
      cf = jax.jit(case['fwd']).lower(*args).compile()
      cg = jax.jit(case['fwd_bwd']).lower(*args).compile()
      mb = bench.xla_mb(cg)
      jax.block_until_ready(cf(*args))
      grads[key] = jax.block_until_ready(cg(*args))
      compiled[key] = (cf, cg, args)
      print(f'{key} = {commit}: XLA memory estimate of fwd+bwd {mb} MB')
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  diff = max(float(jnp.max(jnp.abs(x - y)) / (jnp.max(jnp.abs(x)) + 1e-30))
             for x, y in zip(grads['a'], grads['b']))
  print(f'largest relative difference of the gradients, b vs a: {diff:.2e}')
  times = {k: ([], []) for k in compiled}
  for r in range(repeats):
    for key in (('a', 'b') if r % 2 == 0 else ('b', 'a')):
      cf, cg, args = compiled[key]
      for j, fn in enumerate((cf, cg)):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times[key][j].append(time.perf_counter() - t0)
  print(f'case {name}, batch {batch}, {repeats} calls each, '
        f'{jax.devices()[0].device_kind}:')
  for j, label in enumerate(('fwd', 'fwd+bwd')):
    a = 1000 * np.asarray(times['a'][j]) / batch
    b = 1000 * np.asarray(times['b'][j]) / batch
    ratio = b / a
    print(f'  {label:8s} a: median {np.median(a):6.1f} min {a.min():6.1f} | '
          f'b: median {np.median(b):6.1f} min {b.min():6.1f} ms/image | b/a '
          f'paired: median {np.median(ratio):.3f} (IQR '
          f'{np.percentile(ratio, 25):.3f}-{np.percentile(ratio, 75):.3f})')


if __name__ == '__main__':
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  app.run(main)
