"""The real networks, renderer and synthetic data through the training loop
(slow: the real step takes minutes to compile on a loaded 2-core CPU)."""

import os
import subprocess
import sys

import numpy as np
import pytest

from configs import synthetic
from gan3d import summaries
from gan3d import train

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(data_dir, total):
  c = synthetic.get_config('tiny')
  c.data.data_dir = str(data_dir)
  c.train.total_steps = total
  c.train.checkpoint_every_steps = 2
  c.train.sample_every_steps = 0
  return c


@pytest.mark.slow
def test_tiny_config_real_models_run_and_resume(tmp_path):
  data_dir = tmp_path / 'data'
  full = str(tmp_path / 'full')
  state = train.train_and_evaluate(_config(data_dir, 4), full)
  rows = summaries.read_metrics(full)
  assert [r['step'] for r in rows] == [1, 2, 3, 4]
  for r in rows:
    assert np.isfinite([r['d_loss'], r['g_loss'], r['d_grad_norm'],
                        r['g_grad_norm']]).all(), r
  assert sorted(os.listdir(os.path.join(full, 'checkpoints'))) == ['2', '4']
  # Interrupted after step 2, resumed to 4: same losses (same compiled step).
  part = str(tmp_path / 'part')
  train.train_and_evaluate(_config(data_dir, 2), part)
  train.train_and_evaluate(_config(data_dir, 4), part)
  a = {r['step']: r for r in rows}
  b = {r['step']: r for r in summaries.read_metrics(part)}
  for step in (3, 4):
    for k in ('d_loss', 'g_loss', 'd_grad_norm', 'g_grad_norm'):
      np.testing.assert_allclose(b[step][k], a[step][k], rtol=1e-5, err_msg=k)
  assert int(state.step) == 4


@pytest.mark.slow
def test_launcher_end_to_end_with_samples(tmp_path):
  env = dict(os.environ, PYTHONPATH=REPO, JAX_PLATFORMS='cpu')
  cmd = [sys.executable, '-m', 'launch.train', '--config=configs/synthetic.py:tiny',
         '--config.train.total_steps=2', '--config.train.sample_every_steps=2',
         '--config.train.summaries=True',
         f'--config.data.data_dir={tmp_path / "data"}', f'--workdir={tmp_path / "run"}']
  proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                        timeout=1800)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert 'saved checkpoint of step 2' in proc.stderr + proc.stdout
  assert os.listdir(tmp_path / 'run' / 'tb')
