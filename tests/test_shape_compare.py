"""`benchmarks.shape_compare`: the canonical-view comparison of
`benchmarks.photometric_fit`, the mean shape and loader of
`benchmarks.mean_shape`, the split of SIDE's residuals that
`benchmarks.side_map` prints, the training faces on the shape grid and the
shape biases' offset (`benchmarks.shape_stats`), and the prior's cost and
fixed-shape scores of `benchmarks.prior_cost`."""
import numpy as np
import pytest

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


def test_border_rings_of_a_square():
  mask = np.zeros((1, 9, 9), bool)
  mask[0, 1:8, 1:8] = True                        # 7 x 7 square
  rings = shape_compare.border_rings(mask, 2)
  assert (rings[0] == 1).sum() == 24               # its outline
  assert (rings[0] == 2).sum() == 16               # the 5 x 5 square's outline
  assert (rings[0] == 3).sum() == 9                # the 3 x 3 rest
  np.testing.assert_array_equal(rings[~mask], 0)
  full = shape_compare.border_rings(np.ones((1, 4, 4), bool), 1)
  assert (full[0] == 1).sum() == 12                # the image edge is a border
  with pytest.raises(ValueError, match=r'\[B, H, W\]'):
    shape_compare.border_rings(mask[0], 2)


def test_breakdown_shares_and_profiles():
  mask = np.zeros((2, 8, 8), bool)
  mask[:, 1:7, 1:7] = True
  rings = shape_compare.border_rings(mask, 1)
  r = np.where(rings == 1, 0.02, 0.0) + np.where(rings == 2, -0.01, 0.0)
  rows = shape_compare.breakdown(r, mask, rings, 1)
  assert [row['ring'] for row in rows] == [1, '>1']
  # 20 border pixels at 0.02, 16 inner ones at 0.01: sq 20*4 : 16*1 = 80 : 16.
  assert rows[0]['share_sq'] == pytest.approx(80 / 96, abs=1e-3)
  assert rows[0]['share_px'] == pytest.approx(20 / 36, abs=1e-3)
  assert rows[0]['rms'] == pytest.approx(0.02) and rows[1]['rms'] == pytest.approx(0.01)
  vert, horiz = shape_compare.line_profiles(r, mask, band=2)
  assert np.isnan(vert[0]) and np.isnan(horiz[7])   # no valid pixel there
  assert vert[1] == pytest.approx(0.02) and vert[4] == pytest.approx(-0.01)
  assert horiz[6] == pytest.approx(0.02) and horiz[3] == pytest.approx(-0.01)


def test_rms_relief_difference_ignores_offsets():
  valid = np.zeros((3, 4, 4), bool)
  valid[:2, 1:3, 1:3] = True                       # sample 2 has no valid pixel
  true = np.full((3, 4, 4), 3.5)
  gen = true + 0.3                                 # the same relief, farther away
  assert shape_compare.rms_relief_difference(gen, true, valid) == pytest.approx(0.0)
  gen[:, 1, 1:3] += 0.1                            # half the pixels 0.1 farther
  assert shape_compare.rms_relief_difference(gen, true, valid) == pytest.approx(0.05)


def test_row_profile_of_a_hemisphere():
  n = 16
  s = representation.base_surface(n, 'hemisphere', 1.0)
  x, z = shape_compare.row_profile(np.stack([s, s]), n // 2)
  assert len(x) == n // 2
  np.testing.assert_allclose(x, s[n // 2, n // 2:, 0], atol=1e-3)
  y = s[n // 2, 0, 1]
  np.testing.assert_allclose(z, np.sqrt(np.maximum(1 - np.square(x) - y * y, 0)), atol=2e-3)
  with pytest.raises(ValueError, match='row'):
    shape_compare.row_profile(s[None], n)


def test_face_shape_images_are_upright_faces_on_the_shape_grid():
  from configs import synthetic
  config = synthetic.get_config('tiny')
  s = shape_compare.face_shape_images(config, 3)
  n = int(config.resolution)
  assert s.shape == (3, n, n, 3) and s.dtype == np.float32 and np.all(np.isfinite(s))
  assert np.all(s[:, 0, :, 1] > s[:, -1, :, 1])     # row 0 is the top (y up)
  assert np.all(s[:, :, 0, 0] < s[:, :, -1, 0])     # column 0 is the left
  np.testing.assert_array_equal(s[:2], shape_compare.face_shape_images(config, 2))
  assert not np.array_equal(s[0], s[1])               # different faces
  c = n // 2
  assert np.all(s[:, c, c, 2] > s[:, c, 0, 2])        # the centre in front of the side


@pytest.mark.parametrize('skip_pad', ['zero', 'edge'])
def test_bias_offset_measures_the_shape_biases_only(skip_pad):
  """Zeroing the shape biases moves the vertices back by the offset that
  setting them added: a shift in z, none in x (mirror symmetry), and the
  texture's biases stay. With model.skip_pad='edge' the shift is the same
  for every vertex; with StyleGAN2's zero padding it is smaller at the
  shape image's border than at its centre."""
  import functools
  import jax
  import jax.numpy as jnp
  from configs import synthetic
  from gan3d import models
  config = synthetic.get_config('tiny')
  config.model.shape_symmetry = True
  config.model.skip_pad = skip_pad
  config.model.size_constraint = False        # eq 14 is not linear in the biases
  k3 = 3 * int(config.model.shape_pyramid_levels)
  params = shape_compare.generator_at(config, None, 'init')[0]

  def set_z_bias(path, leaf):
    keys = [str(getattr(k, 'key', k)) for k in path]
    if models.is_shape_output(path) and keys[-1] == 'bias':
      return leaf.at[2:k3:3].set(0.5).at[k3:].set(0.25)   # z of every level; texture
    return leaf
  biased = jax.tree_util.tree_map_with_path(set_z_bias, params)
  zeroed = shape_compare.zero_shape_biases(biased, config)
  for (path, a), b, p in zip(jax.tree_util.tree_leaves_with_path(zeroed),
                             jax.tree_util.tree_leaves(biased), jax.tree_util.tree_leaves(params)):
    keys = [str(getattr(k, 'key', k)) for k in path]
    if models.is_shape_output(path) and keys[-1] == 'bias':
      np.testing.assert_array_equal(np.asarray(a)[:k3], 0.0)
      np.testing.assert_array_equal(np.asarray(a)[k3:], 0.25)
    else:
      np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
      np.testing.assert_array_equal(np.asarray(a), np.asarray(p))
  b = 2
  z_o = jax.random.normal(jax.random.PRNGKey(0), (b, config.model.z_dim))
  z_b = jax.random.normal(jax.random.PRNGKey(1), (b, config.model.z_dim))
  gen = functools.partial(models.generate, config=config, noise=True)
  args = (z_o, z_b, jnp.zeros((b, 2)), jax.random.PRNGKey(2))
  v1 = np.asarray(gen(biased, *args)[1]['vertices'])
  v0 = np.asarray(gen(zeroed, *args)[1]['vertices'])
  np.testing.assert_allclose(v0, np.asarray(gen(params, *args)[1]['vertices']), atol=1e-6)
  off = shape_compare.bias_offset(v1, v0)
  assert off[0] == pytest.approx(0.0, abs=1e-6) and off[2] > 0.01
  n = int(round(np.sqrt(v1.shape[1])))
  d = (v1 - v0).reshape(b, n, n, 3)
  np.testing.assert_allclose(d[..., :2], 0.0, atol=1e-6)
  centre, edge = d[:, n // 2, n // 2, 2], d[:, n // 2, 0, 2]
  if skip_pad == 'edge':
    np.testing.assert_allclose(d[..., 2], d[0, 0, 0, 2], rtol=1e-5)
    assert off[2] == pytest.approx(float(d[0, 0, 0, 2]), rel=1e-4)
  else:
    assert np.all(edge < 0.9 * centre)


def test_bend_costs_plane_dome_and_fold():
  n = 16
  s = topology.grid_disc(n, 0.8).astype(np.float32)
  plane = shape_compare.bend_costs(s[None])
  assert plane['bend'] == 0.0 and plane['angle_deg'] < 0.1
  dome = representation.base_surface(n, 'paraboloid', 0.8, 0.5, 0.8)
  fold = dome.copy()
  fold[n // 2:, :, 2] += 0.3                   # a step across the middle
  costs = shape_compare.bend_costs(np.stack([dome, fold]))
  one = [shape_compare.bend_costs(x[None]) for x in (dome, fold)]
  assert 0.0 < one[0]['bend'] < one[1]['bend']
  assert 0.0 < one[0]['angle_deg'] < one[1]['angle_deg']
  assert costs['bend'] == pytest.approx((one[0]['bend'] + one[1]['bend']) / 2, abs=2e-5)


def test_fixed_shape_scores_prefer_the_true_face():
  """The synthetic test faces' own mean scores better than a flattened copy."""
  from configs import synthetic
  from gan3d import evaluate as ev
  from gan3d.data import pipeline
  config = synthetic.get_config('tiny')
  ecfg = ev.resolve_eval_config(config, num_samples=4)
  test = pipeline.load_synthetic_ground_truth(config, split='test')
  mean = shape_compare.face_shape_images(config, 16).mean(0)
  flat = mean.copy()
  flat[..., 2] *= 0.3
  good = shape_compare.fixed_shape_scores(mean, test, config, ecfg, 4)
  bad = shape_compare.fixed_shape_scores(flat, test, config, ecfg, 4)
  assert set(good) == {'side', 'mad', 'mmd_cd'}
  assert good['side'] < bad['side'] and good['mad'] < bad['mad']
