"""Figure sheets as uint8 arrays -> PNG / GIF (pillow).

Layout of every sheet (`grid_sheet`): R rows x C columns of square tiles of
`tile` pixels, separated and surrounded by `pad` pixels of `pad_value`:

    height = R * tile + (R + 1) * pad,   width = C * tile + (C + 1) * pad,
    tile (r, c) occupies rows    pad + r * (tile + pad) ... + tile
                     and columns pad + c * (tile + pad) ... + tile.

Panels are converted to uint8 (`to_uint8`: [-1, 1] -> [0, 255]) and resized
to the tile with pillow: exact integer downscales use BOX filtering (the mean
of k x k blocks), everything else BILINEAR; panels already at tile size are
copied unchanged.

* `sample_sheet` (paper Fig. 1 / 4 / 6): one row per sample with columns
  [rendered image, normal map, texture, background, view 0 .. view V-1]
  where the views are the textured shape from `canonical_viewpoints()` (5 yaws
  evenly spanning -90 .. +90 degrees, pitch 0).
* `interpolation_sheet` (Fig. 5): rows are the interpolation steps (top to
  bottom), columns the viewpoints.
* `save_gif`: an animated GIF of frames (e.g. `turntable_viewpoints`).

`render_views` renders a textured mesh from several viewpoints with
`gan3d.render` (used by the sampling launcher to make the view columns).
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from PIL import Image


def to_uint8(image) -> np.ndarray:
  """[..., 3] float in [-1, 1] (or uint8) -> uint8."""
  a = np.asarray(image)
  if a.dtype == np.uint8:
    return a
  if not np.all(np.isfinite(a)):
    raise ValueError('image contains NaN or inf')
  return np.round((np.clip(a, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def normals_to_rgb(normals) -> np.ndarray:
  """Unit normals [..., 3] -> uint8 RGB with (n + 1) / 2 (zero normals -> mid grey)."""
  return to_uint8(np.asarray(normals, np.float32))


def canonical_viewpoints(num: int = 5, yaw_range_deg: float = 90.0,
                         pitch_deg: float = 0.0) -> np.ndarray:
  """[num, 2] (yaw, pitch) radians, yaw evenly from -range to +range."""
  if num < 1:
    raise ValueError(f'num must be >= 1, got {num}')
  yaw = np.linspace(-yaw_range_deg, yaw_range_deg, num) if num > 1 else np.zeros(1)
  return np.deg2rad(np.stack([yaw, np.full(num, pitch_deg)], -1)).astype(np.float32)


def turntable_viewpoints(num_frames: int = 36, yaw_range_deg: float = 90.0,
                         pitch_deg: float = 0.0) -> np.ndarray:
  """[num_frames, 2]: yaw goes -range -> +range -> -range (a seamless loop)."""
  if num_frames < 2:
    raise ValueError(f'num_frames must be >= 2, got {num_frames}')
  phase = np.arange(num_frames) / num_frames * 2 * np.pi
  yaw = -yaw_range_deg * np.cos(phase)
  return np.deg2rad(np.stack([yaw, np.full(num_frames, pitch_deg)], -1)).astype(np.float32)


def resize_tile(panel, tile: int) -> np.ndarray:
  """uint8 [h, w, 3] -> [tile, tile, 3] (see module docstring)."""
  p = to_uint8(panel)
  if p.ndim != 3 or p.shape[-1] != 3:
    raise ValueError(f'panel must be [H, W, 3], got {p.shape}')
  h, w = p.shape[:2]
  if (h, w) == (tile, tile):
    return p
  if h == w and h % tile == 0:
    k = h // tile
    return np.round(p.reshape(tile, k, tile, k, 3).astype(np.float64).mean(axis=(1, 3))
                    ).astype(np.uint8)
  return np.asarray(Image.fromarray(p).resize((tile, tile), Image.BILINEAR))


def grid_sheet(panels: Sequence[Sequence[np.ndarray]], tile: int, pad: int = 2,
               pad_value: int = 255) -> np.ndarray:
  """panels[r][c] (each [h, w, 3]) -> uint8 sheet (layout in module docstring)."""
  if tile < 1 or pad < 0:
    raise ValueError(f'tile must be >= 1 and pad >= 0, got {tile}, {pad}')
  rows = len(panels)
  cols = len(panels[0]) if rows else 0
  if rows == 0 or cols == 0 or any(len(r) != cols for r in panels):
    raise ValueError('panels must be a non-empty rectangular grid')
  out = np.full((rows * tile + (rows + 1) * pad, cols * tile + (cols + 1) * pad, 3),
                pad_value, np.uint8)
  for r, row in enumerate(panels):
    for c, panel in enumerate(row):
      y, x = pad + r * (tile + pad), pad + c * (tile + pad)
      out[y:y + tile, x:x + tile] = resize_tile(panel, tile)
  return out


def tile_at(sheet: np.ndarray, r: int, c: int, tile: int, pad: int = 2) -> np.ndarray:
  """The [tile, tile, 3] tile (r, c) of a sheet (inverse of the layout)."""
  y, x = pad + r * (tile + pad), pad + c * (tile + pad)
  return sheet[y:y + tile, x:x + tile]


def sample_sheet(images, normals, textures, backgrounds, views,
                 tile: Optional[int] = None, pad: int = 2) -> np.ndarray:
  """Paper Fig. 1 / 4 sheet.

  Args:
    images: [B, N, N, 3] rendered samples in [-1, 1].
    normals: [B, N, N, 3] unit normals (camera space).
    textures: [B, 2N, 2N, 3] in [-1, 1].
    backgrounds: [B, Hb, Wb, 3] in [-1, 1] (full 2N background or the crop).
    views: [B, V, N, N, 3] textured shape from V viewpoints.
    tile: tile size (default N).
  Returns:
    uint8 [B * tile + (B + 1) pad, (4 + V) * tile + (5 + V) pad, 3].
  """
  arrays = [np.asarray(a) for a in (images, normals, textures, backgrounds)]
  views = np.asarray(views)
  b = arrays[0].shape[0]
  for name, a in zip(('images', 'normals', 'textures', 'backgrounds'), arrays):
    if a.ndim != 4 or a.shape[0] != b or a.shape[-1] != 3:
      raise ValueError(f'{name} must be [{b}, H, W, 3], got {a.shape}')
  if views.ndim != 5 or views.shape[0] != b or views.shape[-1] != 3:
    raise ValueError(f'views must be [{b}, V, H, W, 3], got {views.shape}')
  tile = tile or arrays[0].shape[1]
  rows = []
  for k in range(b):
    rows.append([arrays[0][k], normals_to_rgb(arrays[1][k]), arrays[2][k], arrays[3][k]]
                + list(views[k]))
  return grid_sheet(rows, tile, pad)


def interpolation_sheet(views, tile: Optional[int] = None, pad: int = 2) -> np.ndarray:
  """Fig. 5: views [S, V, H, W, 3] (S interpolation steps, V viewpoints) -> sheet."""
  views = np.asarray(views)
  if views.ndim != 5 or views.shape[-1] != 3:
    raise ValueError(f'views must be [S, V, H, W, 3], got {views.shape}')
  return grid_sheet([list(r) for r in views], tile or views.shape[2], pad)


def save_png(image, path: str) -> str:
  Image.fromarray(to_uint8(image)).save(path)
  return path


def save_gif(frames, path: str, duration_ms: int = 80, loop: int = 0) -> str:
  """Animated GIF from frames [T, H, W, 3] (float in [-1, 1] or uint8)."""
  frames = to_uint8(frames)
  if frames.ndim != 4 or frames.shape[0] < 1 or frames.shape[-1] != 3:
    raise ValueError(f'frames must be [T, H, W, 3], got {frames.shape}')
  imgs = [Image.fromarray(f) for f in frames]
  imgs[0].save(path, save_all=True, append_images=imgs[1:], duration=duration_ms,
               loop=loop, optimize=False, disposal=1)
  return path


def render_views(vertices, faces, uv, texture, viewpoints, settings, background=None):
  """Textured mesh from several viewpoints with gan3d.render.

  Args:
    vertices: [V, 3]; faces: [F, 3]; uv: [V, 2]; texture: [Ht, Wt, 3].
    viewpoints: [K, 2] radians; settings: render.RenderSettings.
    background: [H, W, 3] or None (white).
  Returns:
    [K, H, W, 3] images in [-1, 1].
  """
  import jax
  import jax.numpy as jnp
  from gan3d import render
  if background is None:
    background = jnp.ones((settings.height, settings.width, 3), jnp.float32)

  def one(vp):
    return render.render_mesh(jnp.asarray(vertices), jnp.asarray(faces), settings=settings,
                              uv=jnp.asarray(uv), texture=jnp.asarray(texture),
                              background=background, viewpoint=vp).image

  return jax.jit(jax.vmap(one))(jnp.asarray(viewpoints, jnp.float32))
