"""Multi-device (one process, forced host devices) and multi-process (two
processes, gloo CPU collectives) training with the fast fake model."""

import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from gan3d import distributed
from gan3d import summaries

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHILD = os.path.join(REPO, 'tests', 'test_train_fakes.py')


def _env(devices=1):
  env = dict(os.environ, PYTHONPATH=REPO, JAX_PLATFORMS='cpu')
  # Faster XLA compiles for the children (their numbers are compared at
  # float tolerance, never against a differently compiled parent).
  flags = ['--xla_backend_optimization_level=0']
  if devices > 1:
    flags.append(f'--xla_force_host_platform_device_count={devices}')
  env['XLA_FLAGS'] = ' '.join(flags)
  for k in (distributed.ENV_COORDINATOR, distributed.ENV_NUM_PROCESSES,
            distributed.ENV_PROCESS_ID):
    env.pop(k, None)
  return env


def _free_port():
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def test_one_vs_two_devices_same_update(tmp_path):
  outs = {}
  procs = {}
  for d in (1, 2):
    outs[d] = str(tmp_path / f'dev{d}.npz')
    procs[d] = subprocess.Popen([sys.executable, CHILD, 'one_step', outs[d]],
                                cwd=REPO, env=_env(d), stderr=subprocess.PIPE,
                                text=True)
  for d, p in procs.items():
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-3000:]
  a, b = np.load(outs[1]), np.load(outs[2])
  assert int(a['__devices']) == 1 and int(b['__devices']) == 2
  assert set(a.files) == set(b.files)
  for k in sorted(set(a.files) - {'__devices'}):
    np.testing.assert_allclose(a[k], b[k], rtol=2e-5, atol=2e-6, err_msg=k)
  assert float(a['metric_finite']) == 1.0


def test_two_processes_train_and_checkpoint(tmp_path):
  workdir = str(tmp_path / 'run')
  addr = f'localhost:{_free_port()}'
  procs = [subprocess.Popen(
      [sys.executable, CHILD, 'train', workdir, addr, '2', str(i), '4'],
      cwd=REPO, env=_env(1), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
      text=True) for i in range(2)]
  outs = []
  for p in procs:
    try:
      out, err = p.communicate(timeout=600)
    except subprocess.TimeoutExpired:
      for q in procs:
        q.kill()
      raise
    outs.append(out)
    assert p.returncode == 0, err[-3000:]
  for i, out in enumerate(outs):
    assert f'process {i} done at step 4 devices 2' in out
  rows = summaries.read_metrics(workdir)       # written by process 0 only
  assert [r['step'] for r in rows] == [1, 2, 3, 4]
  assert all(np.isfinite(r['d_loss']) for r in rows)
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['3', '4']


def test_initialize_argument_errors(monkeypatch):
  for k in (distributed.ENV_COORDINATOR, distributed.ENV_NUM_PROCESSES,
            distributed.ENV_PROCESS_ID):
    monkeypatch.delenv(k, raising=False)
  assert distributed.initialize() is False          # single process: no-op
  with pytest.raises(ValueError, match='needs --coordinator_address'):
    distributed.initialize(num_processes=2)
  with pytest.raises(ValueError, match='needs --num_processes'):
    distributed.initialize('localhost:1234')
  with pytest.raises(ValueError, match=r'process_id=2 must be in \[0, 2\)'):
    distributed.initialize('localhost:1234', 2, 2)
