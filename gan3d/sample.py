"""Samples and exports of a trained run (issue 6): ``sample(config, workdir, out)``.

From the EMA generator of a checkpoint (`gan3d.evaluate.load_generator`),
with the truncation trick towards the run's ``w_avg``, writes into ``out``:

  samples.png        paper Fig. 1 / 4 sheet: one row per sample with
                     [image at (yaw, pitch), normal map, texture, background,
                      the textured shape from 5 yaws over -90 .. +90 degrees]
                     (`gan3d.export.sheets.sample_sheet`; white background
                     behind the views).
  interpolation.png  Fig. 5: rows = linear interpolation of the object styles
                     w between samples 0 and 1 (``interp_steps`` rows),
                     columns = the same 5 views.
  turntable.gif      every sample (on its own generated background) turning
                     over yaw in [-r, r], r = max |config.viewpoint.yaw_range_deg|
                     (or ``gif_yaw_range_deg``), a seamless loop.
  meshes/sample_KKK.obj (+ .mtl, .png) and meshes/sample_KKK.glb
                     textured meshes in object space (x right, y up, z towards
                     the camera), only the faces of the circular region.
  index.html         self-contained page: the sample images and a WebGL viewer
                     of every mesh (`gan3d.export.html`).

Sheet sizes (tile t = ``tile`` or N, pad 2): samples.png is
``[num*t + 2*(num+1), (4+V)*t + 2*(5+V)]``, interpolation.png is
``[S*t + 2*(S+1), V*t + 2*(V+1)]``.
"""

from __future__ import annotations

import math
import os
from typing import Any, Dict, Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan3d import evaluate as eval_lib
from gan3d.models import lighting


def sample_config() -> ml_collections.ConfigDict:
  """Knobs of `sample` (``config.sample`` overrides these when present).

  num               samples (rows of samples.png).
  truncation_psi    truncation trick towards w_avg (1.0 = off).
  seed              latents and noise.
  yaw_deg, pitch_deg  viewpoint of the sample images (column 1).
  noise             per-layer noise inputs on.
  num_views, views_yaw_range_deg  view columns: yaws evenly over +-range.
  interp_steps      rows of interpolation.png.
  gif_frames, gif_duration_ms  turntable animation.
  gif_yaw_range_deg  0 = the training range max |config.viewpoint.yaw_range_deg|.
  gif_columns       samples per row of a GIF frame.
  tile              sheet tile size in pixels; 0 = N.
  batch_size        meshes per compiled generator / renderer call.
  canvas_size       size of each 3D viewer canvas in index.html.
  """
  c = ml_collections.ConfigDict()
  c.num = 8
  c.truncation_psi = 0.7
  c.seed = 0
  c.yaw_deg = 0.0
  c.pitch_deg = 0.0
  c.noise = True
  c.num_views = 5
  c.views_yaw_range_deg = 90.0
  c.interp_steps = 6
  c.gif_frames = 24
  c.gif_duration_ms = 80
  c.gif_yaw_range_deg = 0.0
  c.gif_columns = 4
  c.tile = 0
  c.batch_size = 8
  c.canvas_size = 320
  return c


def resolve_sample_config(config: ml_collections.ConfigDict,
                          **overrides) -> ml_collections.ConfigDict:
  """`sample_config()` updated by ``config.sample`` and ``overrides`` (None
  ignored); checks the values."""
  c = sample_config()
  if 'sample' in config:
    c.update(config.sample.to_dict())
  c.update({k: v for k, v in overrides.items() if v is not None})
  for key in ('num', 'num_views', 'interp_steps', 'batch_size', 'gif_columns'):
    if int(c[key]) < 1:
      raise ValueError(f'sample.{key} must be >= 1, got {c[key]}')
  if int(c.gif_frames) < 2:
    raise ValueError(f'sample.gif_frames must be >= 2, got {c.gif_frames}')
  if int(c.tile) < 0:
    raise ValueError(f'sample.tile must be >= 0 (0 = resolution), got {c.tile}')
  if not np.isfinite(float(c.truncation_psi)):
    raise ValueError(f'sample.truncation_psi must be finite, got {c.truncation_psi}')
  return c


def _chunked(n: int, bs: int):
  """(start, stop) of the batches covering range(n)."""
  return [(s, min(s + bs, n)) for s in range(0, n, bs)]


def scenes_from_styles(params, ws: Dict[str, np.ndarray], key: jax.Array,
                       config: ml_collections.ConfigDict, bs: int, noise: bool
                       ) -> Dict[str, np.ndarray]:
  """Styles ``{name: [B, L, w_dim]}`` -> scenes of B meshes (batches of ``bs``,
  the same noise/crop key for every batch so that equal styles give equal
  meshes)."""
  b = next(iter(ws.values())).shape[0]
  parts = []
  for lo, hi in _chunked(b, bs):
    chunk = {k: jnp.asarray(eval_lib.pad_to(v[lo:hi], bs)) for k, v in ws.items()}
    sc = eval_lib.synthesize_scenes(params, chunk, key, config, noise)
    parts.append({k: sc[k][:hi - lo] for k in ('vertices', 'texture', 'background',
                                                'shape_image')})
    faces, uv = sc['faces'], sc['uv']
  out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
  out.update(faces=faces, uv=uv)
  return out


def render_many(scenes: Dict[str, np.ndarray], viewpoints: np.ndarray,
                config: ml_collections.ConfigDict, bs: int, white: bool) -> Dict[str, np.ndarray]:
  """Every mesh from every viewpoint.

  Args:
    scenes: `scenes_from_styles` output with B meshes.
    viewpoints: [K, 2] radians (shared) or [B, K, 2].
    white: white background instead of the generated one.
  Returns: image [B, K, N, N, 3], normals [B, K, N, N, 3]. With a light
  prior (``config.light``) the meshes are lit from the front
  (`lighting.frontal_lights`), so the figures show the shading too.
  """
  b = scenes['vertices'].shape[0]
  vp = np.asarray(viewpoints, np.float32)
  if vp.ndim == 2:
    vp = np.broadcast_to(vp[None], (b,) + vp.shape)
  k = vp.shape[1]
  idx = np.repeat(np.arange(b), k)                    # mesh of each render
  flat_vp = vp.reshape(b * k, 2)
  bg = scenes['background']
  if white:
    bg = np.ones_like(bg)
  lights = lighting.figure_lights(bs, config)
  images, normals = [], []
  for lo, hi in _chunked(b * k, bs):
    sel = eval_lib.pad_to(idx[lo:hi], bs)
    r = eval_lib.render_batch(scenes['vertices'][sel], scenes['texture'][sel], bg[sel],
                              eval_lib.pad_to(flat_vp[lo:hi], bs), scenes['faces'],
                              scenes['uv'], config, lights)
    images.append(r['image'][:hi - lo])
    normals.append(r['normals'][:hi - lo])
  n = int(config.resolution)
  return {'image': np.concatenate(images).reshape(b, k, n, n, 3),
          'normals': np.concatenate(normals).reshape(b, k, n, n, 3)}


def _styles(params, w_avg, z_o, z_b, psi, config, bs):
  parts = []
  for lo, hi in _chunked(z_o.shape[0], bs):
    ws = eval_lib.map_styles(params, jnp.asarray(eval_lib.pad_to(z_o[lo:hi], bs)),
                             jnp.asarray(eval_lib.pad_to(z_b[lo:hi], bs)), w_avg, psi, config)
    parts.append({k: np.asarray(v)[:hi - lo] for k, v in ws.items()})
  return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def sample(config: ml_collections.ConfigDict, workdir: str, out_dir: str,
           step: Optional[int] = None, progress: bool = True, **overrides) -> Dict[str, Any]:
  """Writes the sheets, GIF, meshes and HTML page of a checkpoint (module doc).

  Args:
    config: the run's config; ``config.sample`` (optional) overrides `sample_config()`.
    workdir: run directory with ``checkpoints/``.
    out_dir: output folder (created).
    step: checkpoint step (None: latest).
    progress: tqdm progress bar over the stages.
    **overrides: any `sample_config` key (None values ignored).
  Returns:
    {'step', 'samples_png', 'interpolation_png', 'gif', 'html', 'obj': [...],
     'glb': [...], 'images' [num, N, N, 3], 'vertices' [num, N*N, 3], 'faces' [F, 3]}.
  Raises:
    FileNotFoundError: no checkpoint (see `gan3d.evaluate.load_generator`).
  """
  from gan3d.export import html  # pylint: disable=g-import-not-at-top
  from gan3d.export import mesh_io  # pylint: disable=g-import-not-at-top
  from gan3d.export import sheets  # pylint: disable=g-import-not-at-top
  scfg = resolve_sample_config(config, **overrides)
  gen = eval_lib.load_generator(config, workdir, step)
  params, w_avg = gen['params'], gen['w_avg']
  num, bs, zd = int(scfg.num), int(scfg.batch_size), int(config.model.z_dim)
  psi, noise = float(scfg.truncation_psi), bool(scfg.noise)
  n = int(config.resolution)
  tile = int(scfg.tile) or n
  root = jax.random.PRNGKey(int(scfg.seed))
  k_zo, k_zb, k_syn, k_end = (jax.random.fold_in(root, i) for i in range(4))
  os.makedirs(os.path.join(out_dir, 'meshes'), exist_ok=True)
  stages = eval_lib._progress(range(5), 'sample', progress)  # pylint: disable=protected-access
  bar = stages if hasattr(stages, 'update') else None

  def advance(desc):
    if bar is not None:
      bar.set_description(desc)
      bar.update(1)

  # 1. Samples at the requested viewpoint.
  z_o = np.asarray(jax.random.normal(k_zo, (num, zd)))
  z_b = np.asarray(jax.random.normal(k_zb, (num, zd)))
  ws = _styles(params, w_avg, z_o, z_b, psi, config, bs)
  scenes = scenes_from_styles(params, ws, k_syn, config, bs, noise)
  vp = np.deg2rad(np.asarray([[scfg.yaw_deg, scfg.pitch_deg]], np.float32))
  main = render_many(scenes, vp, config, bs, white=False)
  images, normals = main['image'][:, 0], main['normals'][:, 0]
  advance('views')

  # 2. Fig. 1/4 sheet.
  view_vps = sheets.canonical_viewpoints(int(scfg.num_views), float(scfg.views_yaw_range_deg))
  views = render_many(scenes, view_vps, config, bs, white=True)['image']
  sheet = sheets.sample_sheet(images, normals, scenes['texture'], scenes['background'],
                              views, tile=tile)
  samples_png = sheets.save_png(sheet, os.path.join(out_dir, 'samples.png'))
  advance('interpolation')

  # 3. Fig. 5: interpolation of the object styles between samples 0 and 1.
  if num >= 2:
    end = {k: v[1:2] for k, v in ws.items()}
  else:
    z_end = np.asarray(jax.random.normal(k_end, (1, zd)))
    end = _styles(params, w_avg, z_end, z_b[:1], psi, config, bs)
  steps = int(scfg.interp_steps)
  t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None, None]
  ws_i = {'object': (1 - t) * ws['object'][:1] + t * end['object'],
          'background': np.repeat(ws['background'][:1], steps, axis=0)}
  interp = scenes_from_styles(params, ws_i, k_syn, config, bs, noise)
  interp_views = render_many(interp, view_vps, config, bs, white=True)['image']
  interp_sheet = sheets.interpolation_sheet(interp_views, tile=tile)
  interp_png = sheets.save_png(interp_sheet, os.path.join(out_dir, 'interpolation.png'))
  advance('turntable')

  # 4. Turntable GIF over the training yaw range.
  yaw_range = float(scfg.gif_yaw_range_deg) or float(
      np.max(np.abs(config.viewpoint.yaw_range_deg)))
  tt = render_many(scenes, sheets.turntable_viewpoints(int(scfg.gif_frames), yaw_range,
                                                       float(scfg.pitch_deg)),
                   config, bs, white=False)['image']               # [B, T, N, N, 3]
  cols = min(int(scfg.gif_columns), num)
  rows = math.ceil(num / cols)
  blank = np.ones((n, n, 3), np.float32)
  frames = []
  for f in range(tt.shape[1]):
    cells = [tt[k, f] if k < num else blank for k in range(rows * cols)]
    frames.append(sheets.grid_sheet([cells[r * cols:(r + 1) * cols] for r in range(rows)],
                                    tile))
  gif = sheets.save_gif(np.stack(frames), os.path.join(out_dir, 'turntable.gif'),
                        duration_ms=int(scfg.gif_duration_ms))
  advance('meshes')

  # 5. Meshes and the HTML page.
  objs, glbs, payloads = [], [], []
  for k in range(num):
    stem = os.path.join(out_dir, 'meshes', f'sample_{k:03d}')
    args = (scenes['vertices'][k], scenes['faces'], scenes['uv'], scenes['texture'][k])
    objs.append(mesh_io.write_obj(stem + '.obj', *args)['obj'])
    glbs.append(mesh_io.write_glb(stem + '.glb', *args))
    payloads.append(html.mesh_payload(f'sample {k}', *args))
  page_images = [(f'sample {k}', images[k]) for k in range(num)]
  page = html.write_page(
      os.path.join(out_dir, 'index.html'),
      f'gan3d samples, step {gen["step"]} (truncation {psi:g})', page_images, payloads,
      camera_distance=float(config.render.camera_distance), canvas_size=int(scfg.canvas_size),
      image_size=max(128, n), initial_view=(float(np.deg2rad(scfg.yaw_deg)),
                                            float(np.deg2rad(scfg.pitch_deg))))
  advance('done')
  if bar is not None:
    bar.close()
  return {'step': gen['step'], 'samples_png': samples_png, 'interpolation_png': interp_png,
          'gif': gif, 'html': page, 'obj': objs, 'glb': glbs, 'images': images,
          'vertices': scenes['vertices'], 'faces': scenes['faces'],
          'sheet_shape': sheet.shape, 'interpolation_shape': interp_sheet.shape}
