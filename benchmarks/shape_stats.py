r"""Size and relief of generated shapes against the synthetic ground truth.

A quick diagnostic (about a minute per checkpoint on one CPU thread), to
follow how the shapes move during training without the full Chamfer
evaluation of `launch.evaluate`. For 64 fixed latents (noise on, canonical
view) it reports, over the vertices inside the shape image's central disc:

  w, h        mean half-width / half-height of the vertex set (object units)
  z_centre    mean z of the vertices within 0.3 of the disc radius (object
              space: the rotation centre of the viewpoints is z = 0)
  z_rim       mean z of the vertices beyond 0.85 of the disc radius
  relief      mean over samples of z_centre - z_rim
  relief_std  its spread over the samples (variety of depth)
  zrange      mean max(z) - min(z)
  bias_offset (generated only) the mean [x, y, z] displacement of those
              vertices that G_o's toRGB shape biases cause
              (`shape_compare.bias_offset`: the same samples generated
              without them): how much of the shapes' place in depth those
              few parameters, not the convolutions, set

and, with --gt, the same numbers for 64 ground-truth face meshes of the
config's synthetic data (`gan3d.data.faces`). ``--profile_rows`` prints,
for each listed row of the shape image, the mean x and z from the centre
column to the edge (`shape_compare.row_profile`) of the samples and, with
--gt, of the ground-truth faces at the same grid points: whether the sides
recede behind z = 0 as the faces' do, and (``bias_dz``) how far the
toRGB shape biases move those vertices in z (`bias_offset`'s field along
the row).

Run:
  python -m benchmarks.shape_stats --config=configs/synthetic.py \
      --workdir=/work/runs/s2/default --steps=init,250,1500 --gt
(`init` = the untrained generator; other entries are checkpoint steps.)
"""
from __future__ import annotations

import functools
import json

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
from ml_collections import config_flags
import numpy as np

from benchmarks import shape_compare
from gan3d import models

_CONFIG = config_flags.DEFINE_config_file('config', 'configs/synthetic.py', 'run config')
_WORKDIR = flags.DEFINE_string('workdir', None, 'run directory (checkpoints/)')
_STEPS = flags.DEFINE_list('steps', [], "checkpoint steps, or 'init'")
_GT = flags.DEFINE_bool('gt', False, 'also report the ground-truth faces')
_NUM = flags.DEFINE_integer('num', 64, 'samples per row')
_ROWS = flags.DEFINE_list('profile_rows', [], 'shape-image rows to print side profiles of')


def shape_stats(v: np.ndarray) -> dict:
  """v [B, V, 3] vertices of the central disc -> the numbers above."""
  x, y, z = v[..., 0], v[..., 1], v[..., 2]
  r = np.hypot(x - x.mean(1, keepdims=True), y - y.mean(1, keepdims=True))
  rmax = r.max(1, keepdims=True)
  inner, outer = r < 0.3 * rmax, r > 0.85 * rmax
  z_in = np.array([z[i][inner[i]].mean() for i in range(len(z))])
  z_out = np.array([z[i][outer[i]].mean() for i in range(len(z))])
  relief = z_in - z_out
  return dict(w=float(np.mean(x.max(1) - x.min(1)) / 2),
              h=float(np.mean(y.max(1) - y.min(1)) / 2),
              z_centre=float(z_in.mean()), z_rim=float(z_out.mean()),
              relief=float(relief.mean()), relief_std=float(relief.std()),
              zrange=float(np.mean(z.max(1) - z.min(1))))


def disc_vertices(v: np.ndarray) -> np.ndarray:
  """[B, N*N, 3] shape-image vertices -> those of the central disc."""
  n = int(round(np.sqrt(v.shape[1])))
  ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing='ij')
  c = (n - 1) / 2
  keep = ((ii - c) ** 2 + (jj - c) ** 2 <= c ** 2 + 1e-6).ravel()
  return v[:, keep]


def main(argv):
  del argv
  c = _CONFIG.value
  b = _NUM.value
  if _GT.value:
    from gan3d.data import faces, synthetic  # pylint: disable=g-import-not-at-top
    spec = synthetic.spec_from_config(c)
    t = np.linspace(-1, 1, spec.mesh_res)
    uu, vv = np.meshgrid(t, t)
    inside = (uu ** 2 + vv ** 2).ravel() <= 1.0
    gt = [np.asarray(faces.face_vertices(
        faces.sample_face_params(jax.random.PRNGKey(100 + i), dict(spec.face)),
        spec.mesh_res, spec.disc_radius, spec.fit_radius))[inside] for i in range(b)]
    print('gt', json.dumps(shape_stats(np.stack(gt))))
    if _ROWS.value:
      n = int(c.resolution)
      g = (jnp.arange(n, dtype=jnp.float32) + 0.5) / n * 2.0 - 1.0
      pu, pv = jnp.meshgrid(g, -g)        # the shape image's pixel centres
      grid = np.stack([np.asarray(faces.face_points(
          faces.sample_face_params(jax.random.PRNGKey(100 + i), dict(spec.face)),
          pu, pv, spec.disc_radius, spec.fit_radius)) for i in range(b)])
      for r in _ROWS.value:
        x, z = shape_compare.row_profile(grid, int(r))
        print('gt', json.dumps({'row': int(r), 'x': x, 'z': z}))
  key = jax.random.PRNGKey(1)
  z_o = jax.random.normal(key, (b, c.model.z_dim))
  z_b = jax.random.normal(jax.random.fold_in(key, 1), (b, c.model.z_dim))
  view = jnp.zeros((b, 2))
  gen = jax.jit(functools.partial(models.generate, config=c, noise=True))
  for s in _STEPS.value:
    params, _ = shape_compare.generator_at(c, _WORKDIR.value, s)
    _, scene = gen(params, z_o, z_b, view, jax.random.PRNGKey(2))
    v = np.asarray(scene['vertices'])
    _, bare = gen(shape_compare.zero_shape_biases(params, c), z_o, z_b, view,
                  jax.random.PRNGKey(2))
    bare_v = np.asarray(bare['vertices'])
    stats = shape_stats(disc_vertices(v))
    stats['bias_offset'] = shape_compare.bias_offset(disc_vertices(v), disc_vertices(bare_v))
    print(s, json.dumps(stats))
    n = int(round(np.sqrt(v.shape[1])))
    dv = v - bare_v
    for r in _ROWS.value:
      x, z = shape_compare.row_profile(v.reshape(len(v), n, n, 3), int(r))
      _, dz = shape_compare.row_profile(dv.reshape(len(v), n, n, 3), int(r))
      print(s, json.dumps({'row': int(r), 'x': x, 'z': z, 'bias_dz': dz}))


if __name__ == '__main__':
  app.run(main)
