"""`benchmarks.prior_cost`: the smoothness prior's cost of a mesh of the
generator's topology, and a fixed shape scored like a generator."""
import numpy as np
import pytest

from benchmarks import prior_cost
from gan3d import representation
from gan3d.render import topology


def test_bend_costs_plane_dome_and_fold():
  n = 16
  s = topology.grid_disc(n, 0.8).astype(np.float32)
  plane = prior_cost.bend_costs(s[None])
  assert plane['bend'] == 0.0 and plane['angle_deg'] < 0.1
  dome = representation.base_surface(n, 'paraboloid', 0.8, 0.5, 0.8)
  fold = dome.copy()
  fold[n // 2:, :, 2] += 0.3                   # a step across the middle
  costs = prior_cost.bend_costs(np.stack([dome, fold]))
  one = [prior_cost.bend_costs(x[None]) for x in (dome, fold)]
  assert 0.0 < one[0]['bend'] < one[1]['bend']
  assert 0.0 < one[0]['angle_deg'] < one[1]['angle_deg']
  assert costs['bend'] == pytest.approx((one[0]['bend'] + one[1]['bend']) / 2, abs=2e-5)


def test_fixed_shape_scores_prefer_the_true_face():
  """The synthetic test faces' own mean scores better than a flattened copy."""
  from benchmarks import shape_compare
  from configs import synthetic
  from gan3d import evaluate as ev
  from gan3d.data import pipeline
  config = synthetic.get_config('tiny')
  ecfg = ev.resolve_eval_config(config, num_samples=4)
  test = pipeline.load_synthetic_ground_truth(config, split='test')
  mean = shape_compare.face_shape_images(config, 16).mean(0)
  flat = mean.copy()
  flat[..., 2] *= 0.3
  good = prior_cost.fixed_shape_scores(mean, test, config, ecfg, 4)
  bad = prior_cost.fixed_shape_scores(flat, test, config, ecfg, 4)
  assert set(good) == {'side', 'mad', 'mmd_cd'}
  assert good['side'] < bad['side'] and good['mad'] < bad['mad']
