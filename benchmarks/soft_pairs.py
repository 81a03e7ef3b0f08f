r"""How many of the soft layer's window pairs are visible (sizing
`RenderSettings.soft_pairs_per_pixel`).

For the meshes and viewpoints of `benchmarks.render` (cases 64 and 128, four
viewpoints each) prints the F x K^2 window pairs, the visible soft pairs
(0 < d < B and in front of the crisp surface), their share, and the visible
pairs per pixel: the maximum at one pixel and the mean over pixels that have
any. The pair list must hold the visible pairs of a whole image.

Run:  python -m benchmarks.soft_pairs                 (the default slope)
      python -m benchmarks.soft_pairs --slope=0        (lambda_slope of eq 9)
"""
from __future__ import annotations

from absl import app
import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import render as render_bench
from gan3d import render
from gan3d.render import camera
from gan3d.render import soft as soft_lib


def main(argv):
  del argv
  slope = render_bench._SLOPE.value  # pylint: disable=protected-access
  extra = {} if slope is None else {'slope': slope}
  for name in ('64', '128'):
    n, size, _, full = render_bench.CASES[name]
    verts, faces = render_bench._mesh(n, full)  # pylint: disable=protected-access
    settings = render.RenderSettings(height=size, width=size, soft_width=1.0,
                                     window=4, **extra)
    for vp in camera.sample_viewpoints(jax.random.PRNGKey(0), 4):
      v = camera.to_camera(jnp.asarray(verts), vp)
      dp = soft_lib.discrete_passes(
          v, jnp.asarray(faces), settings, jnp.all(jnp.isfinite(v), -1))
      vis = dp.vis
      per_pixel = np.bincount(np.asarray(dp.window.pix)[np.asarray(vis)],
                              minlength=size * size)
      print(f'case {name}, slope {settings.slope}: window pairs {vis.size}, visible {int(vis.sum())} '
            f'({float(vis.sum()) / vis.size:.1%}), per pixel max {per_pixel.max()}, '
            f'mean where any {per_pixel[per_pixel > 0].mean():.2f}, '
            f'mean over the image {per_pixel.mean():.2f}')


if __name__ == '__main__':
  app.run(main)
