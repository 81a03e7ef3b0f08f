"""gan3d.render: a differentiable soft mesh renderer in JAX.

Pure functions, composable with jit, vmap and grad. See `render_mesh` and
docs/interfaces.md for the conventions.
"""
from gan3d.render import camera
from gan3d.render import topology
from gan3d.render.api import box_downsample
from gan3d.render.api import render_mesh
from gan3d.render.api import RenderOutput
from gan3d.render.api import suggest_window
from gan3d.render.settings import RenderSettings
from gan3d.render.texture import sample_bilinear

__all__ = ['camera', 'topology', 'box_downsample', 'render_mesh', 'RenderOutput',
           'RenderSettings', 'suggest_window', 'sample_bilinear']
