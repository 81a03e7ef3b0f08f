r"""Markdown table of a synthetic study (benchmarks/synthetic_study.sh).

  python -m benchmarks.study_table ROOT [RUN ...]

Reads ROOT/RUN/eval/metrics_step*.json (the latest step; ``RUN@STEP`` picks
that step's file, and RUN may be a path relative to ROOT) for each run and
prints one row per run, one row per run for its untrained generator (step 0),
and the flat-disc and sphere-cap baselines; the training wall time is taken
from ROOT/RUN.log.
"""

from __future__ import annotations

import glob
import json
import os
import re
import sys

COLUMNS = (('mmd_cd', 'Chamfer MMD ↓'), ('coverage', 'coverage ↑'),
           ('side', 'depth SIDE ↓'), ('mad', 'normal MAD (deg) ↓'),
           ('hollow_rate', 'hollow-face rate ↓'), ('empty_rate', 'empty ↓'))


def latest_metrics(run_dir: str, at_step: int | None = None) -> dict | None:
  """The run's evaluation of step ``at_step`` (None: its latest), or None."""
  paths = glob.glob(os.path.join(run_dir, 'eval', 'metrics_step*.json'))
  step = lambda p: int(re.search(r'metrics_step(\d+)\.json$', p).group(1))
  if at_step is not None:
    paths = [p for p in paths if step(p) == at_step]
  if not paths:
    return None
  with open(max(paths, key=step)) as fh:
    return json.load(fh)


def train_seconds(log_path: str) -> float | None:
  if not os.path.exists(log_path):
    return None
  with open(log_path, errors='replace') as fh:
    walls = [float(x) for x in re.findall(r'train wall ([\d.]+) s', fh.read())]
  return sum(walls) if walls else None   # a stopped + resumed run: both parts


def table(root: str, runs: list[str]) -> str:
  head = ['run', 'step', 'train min'] + [c[1] for c in COLUMNS] + ['SWD x1e3 ↓']
  lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
  untrained, fixed = [], None
  for spec in runs:
    path, _, at = spec.partition('@')
    m = latest_metrics(os.path.join(root, path), int(at) if at else None)
    run = os.path.basename(os.path.normpath(path))
    if m is None:
      lines.append(f'| {run} | (no evaluation) |')
      continue
    geo, img = m.get('geometry', {}), m['image']
    secs = train_seconds(os.path.join(root, path + '.log'))
    cells = [run, str(m['step']), f'{secs / 60:.0f}' if secs else '?']
    cells += [f"{geo['generator'][k]:.3g}" if 'generator' in geo else '-' for k, _ in COLUMNS]
    cells.append(f"{img['generator']['swd_avg']:.3g}")
    lines.append('| ' + ' | '.join(cells) + ' |')
    if 'untrained' in geo:
      untrained.append((run, geo['untrained'], img.get('untrained')))
    if fixed is None and 'disc' in geo:
      fixed = geo
  # The untrained generator differs per config (parametrisation, eq 13/14
  # switches); the disc and the sphere cap do not.
  for run, geo_u, img_u in untrained:
    cells = [f'*untrained {run}*', '0', '-'] + [f'{geo_u[k]:.3g}' for k, _ in COLUMNS]
    cells.append(f"{img_u['swd_avg']:.3g}" if img_u else '-')
    lines.append('| ' + ' | '.join(cells) + ' |')
  if fixed is not None:
    for name in ('disc', 'sphere_cap'):
      cells = [f'*{name} baseline*', '-', '-'] + [f'{fixed[name][k]:.3g}' for k, _ in COLUMNS]
      cells.append('-')
      lines.append('| ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


def main(argv: list[str]) -> None:
  if len(argv) < 2 or argv[1] in ('-h', '--help'):
    sys.exit(__doc__)
  root = argv[1]
  runs = argv[2:] or sorted(d for d in os.listdir(root)
                            if os.path.isdir(os.path.join(root, d)))
  print(table(root, runs))


if __name__ == '__main__':
  main(sys.argv)
