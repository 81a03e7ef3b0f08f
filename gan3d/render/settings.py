"""Static settings of the renderer.

`RenderSettings` is a frozen, hashable dataclass: pass it as a static argument
under `jax.jit` (changing any field recompiles, as it changes array shapes or
the program).
"""
from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class RenderSettings:
  """Everything that configures one call of `render_mesh`.

  Attributes:
    height, width: output image size in pixels.
    soft: draw the soft layer (eqs 9-11). False gives the "crisp" renderer of
      the paper's ablation (Fig. 3b): no gradient with respect to silhouettes.
    soft_width: B, the extension width of every triangle, in pixels (> 0).
    slope: lambda_slope >= 0, depth penalty per pixel of distance (eq 9),
      in depth units (the unit ball's) per pixel. The default 0.1 pushes a
      triangle's extension behind the surface it borders wherever that
      surface's depth changes by less than 0.1 per pixel, so that the soft
      layer lives at silhouettes and occlusion boundaries: at N=128 about
      0.6-1.3 visible soft pairs per image pixel instead of 4-6 at slope 0
      (`python -m benchmarks.soft_pairs`), and the pair list below can be
      short. With slope 0 every triangle's extension over its neighbours
      counts (a 1-pixel blur everywhere): raise `soft_pairs_per_pixel` to
      about 12.
    window: side K of the fixed square pixel window rasterized per triangle.
      A triangle is tested against K x K pixel centres starting at its
      (extended) bounding box. Triangles whose extended bounding box holds more
      than K pixel centres per axis are clipped to the window and counted in
      `RenderOutput.overflow`. Memory and time grow with F * K^2. At B=1 a
      triangle at most 1 pixel wide needs K=4; use `suggest_window` for big
      triangles. The z-buffer tests a smaller window, K - floor(2 B) pixels
      a side, starting at the unextended box (`rasterize.crisp_window`).
    camera_distance: D > 1, distance of the camera from the origin on +Z. The
      field of view is set so that the unit ball fits the image tightly
      (half-angle t with sin t = 1 / D).
    near: triangles with a vertex at depth <= near are dropped (no clipping).
    z_far: depth reported where no triangle covers a pixel.
    cull_backfaces: drop triangles that are clockwise as seen from the camera
      (faces are front-facing when counter-clockwise in a right-handed, y-up
      view from the camera, the OpenGL convention).
    perspective_correct: perspective-correct barycentrics (else screen-space).
    soft_pairs_per_pixel: capacity of the soft layer's pair list, in pairs
      per image pixel (`soft.compact_pairs`): the differentiable soft layer
      and its backward pass run on ceil(this * H * W) (triangle, pixel)
      pairs instead of all F * K^2 window pairs, and their time grows with
      it. At the default slope a dense mesh has about 1 visible pair per
      image pixel (default 3); at slope 0 about 7 per covered pixel (use
      12). Pairs beyond the capacity are dropped and counted in
      `RenderOutput.soft_overflow`: raise it if that is ever non-zero.
      0 = no compaction.
    min_area: triangles with screen-space area below this (pixels^2) are
      dropped as degenerate.
  """
  height: int = 64
  width: int = 64
  soft: bool = True
  soft_width: float = 1.0
  slope: float = 0.1
  window: int = 4
  camera_distance: float = 4.0
  near: float = 1e-2
  z_far: float = 1e4
  cull_backfaces: bool = False
  perspective_correct: bool = True
  min_area: float = 1e-10
  soft_pairs_per_pixel: float = 3.0

  def __post_init__(self):
    def bad(name, why):
      raise ValueError(f'RenderSettings.{name}={getattr(self, name)!r}: {why}')
    for name in ('height', 'width', 'window'):
      v = getattr(self, name)
      if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        bad(name, 'must be a positive int')
    if not (self.soft_width > 0 and math.isfinite(self.soft_width)):
      bad('soft_width', 'must be a finite number > 0 (pixels)')
    if not (self.slope >= 0 and math.isfinite(self.slope)):
      bad('slope', 'must be a finite number >= 0')
    if not (self.camera_distance > 1 and math.isfinite(self.camera_distance)):
      bad('camera_distance', 'must be > 1 so that the unit ball is in view')
    if not 0 < self.near < self.camera_distance:
      bad('near', 'must be in (0, camera_distance)')
    if not self.z_far > self.camera_distance + 1:
      bad('z_far', 'must be larger than any depth of the unit ball')
    if not (self.soft_pairs_per_pixel >= 0 and math.isfinite(self.soft_pairs_per_pixel)):
      bad('soft_pairs_per_pixel', 'must be a finite number >= 0 (0 = all pairs)')
    if not self.min_area >= 0:
      bad('min_area', 'must be >= 0')

  @property
  def extension(self) -> float:
    """Pixels added around each triangle's bounding box (B, or 0 if crisp)."""
    return float(self.soft_width) if self.soft else 0.0

  @property
  def focal(self) -> float:
    """Focal length in units of half the image's smaller side: 1 / tan(t)."""
    d = float(self.camera_distance)
    return math.sqrt(d * d - 1.0)
