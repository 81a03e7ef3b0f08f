"""`benchmarks.shape_compare`: the canonical-view comparison of
`benchmarks.photometric_fit`."""
import numpy as np

from benchmarks import shape_compare
from gan3d import representation
from gan3d.render import topology


def _canonical(z_scale=1.0, shear=0.0):
  n = 16
  s = representation.base_surface(n, 'paraboloid', 0.8, 0.5, 0.8).copy()
  s[..., 2] = s[..., 2] * z_scale + shear * s[..., 1]
  return shape_compare.canonical(topology.shape_image_to_vertices(s),
                                   topology.grid_faces(n), n, 4.0)


def test_compare_zero_for_the_same_shape_and_sees_a_lean():
  truth = _canonical()
  same = shape_compare.compare(truth, truth)
  assert same['depth_mae'] == 0.0 and same['normal_deg'] < 0.1
  assert same['lean'] == same['true_lean'] and abs(same['true_lean']) < 0.02
  down = shape_compare.compare(_canonical(shear=0.3), truth)
  assert down['lean'] < -0.1 and down['centre'] < -0.1 and down['normal_deg'] > 5.0
  deeper = shape_compare.compare(_canonical(z_scale=1.5), truth)
  assert deeper['depth_mae'] > 0.01 and abs(deeper['lean']) < 0.02


def test_mean_shape_of_caps():
  from gan3d.eval import baselines
  caps = [baselines.sphere_cap(1, 16, 16, 4.0, radius=0.8, cap_height=h) for h in (0.3, 0.5)]
  depth = np.concatenate([c['depth'] for c in caps])
  mask = np.concatenate([c['alpha'] for c in caps]) > 0.5
  d, keep, normals = shape_compare.mean_shape(depth, mask, 4.0)
  np.testing.assert_array_equal(keep, mask[0])                   # same outline
  np.testing.assert_allclose(d[keep], depth[:, keep].mean(0), rtol=1e-6)
  assert np.all(d[~keep] > 100.0)                                 # background pushed far
  np.testing.assert_allclose(np.linalg.norm(normals[8, 8]), 1.0, atol=1e-5)
  rep = shape_compare.repeated(d, keep, normals, 3)
  assert rep['depth'].shape == (3, 16, 16) and rep['alpha'].dtype == np.float32


def test_generator_at_init_is_the_untrained_generator():
  from configs import synthetic
  from gan3d import evaluate as ev
  import jax
  config = synthetic.get_config('tiny')
  params, w_avg = shape_compare.generator_at(config, None, 'init')
  want = ev.untrained_generator(config)
  for a, b in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(want)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  assert set(w_avg) and all(np.all(np.asarray(v) == 0) for v in w_avg.values())
