"""Synthetic 3D faces with ground truth: generation (jit + vmap) and tfds builder.

Each example is a procedural face (`gan3d.data.faces`) rendered from a random
viewpoint of the paper's prior (section 7: yaw +-45, pitch +-15 degrees,
uniform; configurable) over a random natural-looking background. Rendering is
independent of the soft renderer used in training: the crisp rasterizer
(`gan3d.render.render_mesh`, `soft=False`) at `supersample` x N pixels per
axis, then box-downsampling to N x N, which anti-aliases silhouettes.

Stored per example (N = config.resolution, P = synthetic.num_points):
  image            [N, N, 3] uint8   the rendered photo (PNG in the records)
  depth            [N, N] float32    mean depth (D - z, camera space, object
                                     units) of the covered sub-pixels; +inf
                                     where mask is False
  normals          [N, N, 3] float16 camera-space unit normals facing the
                                     camera (mean over covered sub-pixels,
                                     renormalised); 0 where mask is False
  mask             [N, N] bool       object coverage >= 1/2 of the pixel
  coverage         [N, N] uint8      object coverage * 255 (soft mask)
  viewpoint        [2] float32       (yaw, pitch) radians, the renderer's
                                     convention R = R_x(pitch) R_y(yaw)
  canonical_depth  [N, N] float32    depth at yaw = pitch = 0; +inf off-object
  canonical_points [P, 3] float32    object-space points of the surface
                                     visible at yaw = pitch = 0, sampled
                                     uniformly over the covered sub-pixels
                                     without replacement
  index            int64             example index within its split

Deterministic: example i of split s is a function of (synthetic.seed, s, i)
and the knobs only (keys by `jax.random.fold_in`), not of the batch size.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import Iterator

import chex
import jax
import jax.numpy as jnp
import numpy as np

from gan3d import render
from gan3d.data import faces
from gan3d.data import tfds_util

# Where the light of the Lambertian shading is attached (see
# gan3d.data.defaults: 'camera' follows the viewpoint, 'object' turns with
# the face, so its shading is view-independent like a texture).
LIGHT_FRAMES = ('camera', 'object')

SPLITS = ('train', 'test')
VERSION = '1.0.0'


@dataclasses.dataclass(frozen=True)
class SynthSpec:
  """Hashable, static description of how to render one example."""
  resolution: int
  supersample: int
  mesh_res: int
  texture_res: int
  window: int
  canonical_window: int
  camera_distance: float
  disc_radius: float
  fit_radius: float
  yaw_range_deg: tuple[float, float]
  pitch_range_deg: tuple[float, float]
  shading: bool
  ambient: tuple[float, float]
  light_spread_deg: float
  light_frame: str
  bg_noise_octaves: int
  bg_noise_strength: tuple[float, float]
  bg_texture_strength: tuple[float, float]
  num_points: int
  face: tuple[tuple[str, tuple[float, float]], ...]
  light_tilt_deg: float = 0.0

  @property
  def hires(self) -> int:
    return self.resolution * self.supersample


def spec_from_config(config) -> SynthSpec:
  """Validated `SynthSpec` from config.resolution and config.data.synthetic."""
  n = int(config.resolution)
  s = config.data.synthetic
  if n < 8 or n & (n - 1):
    raise ValueError(f'config.resolution={n}: must be a power of two >= 8')
  if int(s.supersample) < 1:
    raise ValueError(f'synthetic.supersample={s.supersample}: must be >= 1')
  for name in ('yaw_range_deg', 'pitch_range_deg', 'ambient',
               'bg_noise_strength', 'bg_texture_strength'):
    lo, hi = getattr(s, name)
    if not lo <= hi:
      raise ValueError(f'synthetic.{name}=({lo}, {hi}): min must be <= max')
  if not s.bg_noise_strength[0] > 0:
    raise ValueError('synthetic.bg_noise_strength min must be > 0 (the '
                     'background must never be a plain colour)')
  light_frame = str(s.get('light_frame', 'camera'))
  if light_frame not in LIGHT_FRAMES:
    raise ValueError(f'synthetic.light_frame={light_frame!r}: must be one of {LIGHT_FRAMES}')
  light_tilt = float(s.get('light_tilt_deg', 0.0))
  if not -90.0 <= light_tilt <= 90.0:
    raise ValueError(f'synthetic.light_tilt_deg={light_tilt}: must be in [-90, 90]')
  if not 0 < s.fit_radius <= 1:
    raise ValueError(f'synthetic.fit_radius={s.fit_radius}: must be in (0, 1]')
  if not 0 < s.disc_radius <= 1:
    raise ValueError(f'synthetic.disc_radius={s.disc_radius}: in (0, 1]')
  mesh_res = int(round(float(s.mesh_res_factor) * n))
  if mesh_res < 4:
    raise ValueError(f'synthetic.mesh_res_factor={s.mesh_res_factor} gives '
                     f'{mesh_res} grid vertices per side (< 4)')
  hires_pixels = (n * int(s.supersample)) ** 2
  if int(s.num_points) < 1 or int(s.num_points) > hires_pixels // 8:
    raise ValueError(f'synthetic.num_points={s.num_points}: must be in '
                     f'[1, {hires_pixels // 8}] at this resolution')
  face = tuple(sorted((k, (float(v[0]), float(v[1])))
                      for k, v in dict(s.face).items()))
  missing = set(faces.DEFAULT_RANGES) - {k for k, _ in face}
  if missing:
    raise ValueError(f'synthetic.face lacks ranges for {sorted(missing)}')
  return SynthSpec(
      resolution=n, supersample=int(s.supersample), mesh_res=mesh_res,
      texture_res=int(s.texture_res_factor) * n, window=int(s.window),
      canonical_window=int(s.canonical_window),
      camera_distance=float(s.camera_distance),
      disc_radius=float(s.disc_radius), fit_radius=float(s.fit_radius),
      yaw_range_deg=tuple(map(float, s.yaw_range_deg)),
      pitch_range_deg=tuple(map(float, s.pitch_range_deg)),
      shading=bool(s.shading), ambient=tuple(map(float, s.ambient)),
      light_spread_deg=float(s.light_spread_deg), light_frame=light_frame,
      bg_noise_octaves=int(s.bg_noise_octaves),
      bg_noise_strength=tuple(map(float, s.bg_noise_strength)),
      bg_texture_strength=tuple(map(float, s.bg_texture_strength)),
      num_points=int(s.num_points), face=face, light_tilt_deg=light_tilt)


def _pixel_rays(spec: SynthSpec):
  """Camera-space directions [S, S, 3] (x, y, -1) through the hi-res pixels."""
  s = spec.hires
  focal = math.sqrt(spec.camera_distance ** 2 - 1.0)
  c = (np.arange(s, dtype=np.float32) + 0.5 - 0.5 * s) / (0.5 * s * focal)
  x, y = np.meshgrid(c, -c)
  return np.stack([x, y, -np.ones_like(x)], -1)


def _downsample_gt(spec: SynthSpec, mask, depth, normals=None):
  """Low-res coverage, mask, depth (+inf off-object) and normals from hi-res."""
  f = spec.supersample
  cov = render.box_downsample(mask, f)
  m = cov >= 0.5
  depth_sum = render.box_downsample(jnp.where(mask > 0, depth, 0.0), f)
  depth_lr = jnp.where(m, depth_sum / jnp.maximum(cov, 1e-6), jnp.inf)
  if normals is None:
    return cov, m, depth_lr
  n = render.box_downsample(normals * mask[..., None], f)
  n = n / jnp.maximum(jnp.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
  return cov, m, depth_lr, jnp.where(m[..., None], n, 0.0)


def face_scene(key, spec: SynthSpec, relief_scale: float = 1.0, shear: float = 0.0):
  """The face of example ``key``: (vertices [V, 3] object space, faces
  [F, 3], uv [V, 2], texture [T, T, 3] and background [N, N, 3] in [0, 1]),
  ``relief_scale`` and ``shear`` as in `render_example`."""
  n = spec.resolution
  k_face, k_tex, k_bg = (jax.random.fold_in(key, i) for i in range(3))
  params = faces.sample_face_params(k_face, dict(spec.face))
  verts = faces.face_vertices(params, spec.mesh_res, spec.disc_radius,
                              spec.fit_radius)
  verts = verts * jnp.array([1.0, 1.0, relief_scale], verts.dtype)
  verts = verts + jnp.stack([jnp.zeros_like(verts[:, 0]), jnp.zeros_like(verts[:, 0]),
                             shear * verts[:, 1]], -1)
  tri = render.topology.grid_faces(spec.mesh_res)
  uv = faces.face_uv(spec.mesh_res)
  tex = faces.face_texture(params, k_tex, spec.texture_res)
  # The background is made at N x N: compositing with the box-filtered
  # coverage below equals box-filtering a nearest-upsampled background.
  bg = faces.background(k_bg, n, spec.bg_noise_octaves,
                        spec.bg_noise_strength, spec.bg_texture_strength)
  return verts, tri, uv, tex, bg


def view_and_light(spec: SynthSpec, u):
  """``u [5]`` uniform in [0, 1) -> (viewpoint [2] radians, camera-frame light
  direction [3], ambient []) as the data set draws them."""
  lo = jnp.deg2rad(jnp.array([spec.yaw_range_deg[0], spec.pitch_range_deg[0]]))
  hi = jnp.deg2rad(jnp.array([spec.yaw_range_deg[1], spec.pitch_range_deg[1]]))
  view = lo + u[0:2] * (hi - lo)
  # Light within light_spread_deg of the view axis (turned up by
  # light_tilt_deg), uniform over the cap's projected disc.
  light = render.camera.light_cone(u[2], u[3], jnp.deg2rad(spec.light_spread_deg),
                                   math.radians(spec.light_tilt_deg))
  if spec.light_frame == 'object':
    # Drawn around the object's +z axis and turned with the object: the
    # shading is then the same from every viewpoint (a texture).
    light = render.camera.rotation_matrix(view) @ light
  ambient = spec.ambient[0] + u[4] * (spec.ambient[1] - spec.ambient[0])
  return view, light, ambient


def _hires_settings(spec: SynthSpec) -> render.RenderSettings:
  """The crisp hi-res renderer of the photos."""
  return render.RenderSettings(height=spec.hires, width=spec.hires, soft=False,
                               window=spec.window,
                               camera_distance=spec.camera_distance)


def _photo(spec: SynthSpec, scene, view, light, ambient):
  """One photo of ``scene`` (`face_scene`) at ``view`` lit by ``light`` and
  ``ambient`` (`view_and_light`): (image [N, N, 3] in [0, 1], the hi-res
  render, camera-facing normals)."""
  verts, tri, uv, tex, bg = scene
  out = render.render_mesh(verts, tri, settings=_hires_settings(spec), uv=uv, texture=tex,
                           viewpoint=view)
  # Normals facing the camera: flip where n . ray > 0 (ray points away from it).
  rays = _pixel_rays(spec)
  nrm = out.normals * jnp.where(
      jnp.sum(out.normals * rays, -1, keepdims=True) > 0, -1.0, 1.0)
  albedo = out.image
  if spec.shading:
    albedo = albedo * faces.lambert(nrm, light, ambient)[..., None]
  cov = render.box_downsample(out.mask, spec.supersample)
  image = render.box_downsample(albedo * out.mask[..., None], spec.supersample) + (
      1.0 - cov[..., None]) * bg
  return image, out, nrm


@functools.partial(jax.jit, static_argnums=(1,))
def photos_of(key, spec: SynthSpec, u):
  """Photos ``[M, N, N, 3]`` in [0, 1] of the face of example ``key`` (its
  shape, texture and background as in `render_example`) at the views and
  lights of ``u [M, 5]`` (uniform in [0, 1); `view_and_light`). For
  diagnostics that need one face seen many times
  (`benchmarks.photometric_fit`)."""
  scene = face_scene(key, spec)
  return jax.vmap(lambda ui: _photo(spec, scene, *view_and_light(spec, ui))[0])(u)


def render_example(key, spec: SynthSpec, relief_scale: float = 1.0, shear: float = 0.0):
  """Renders one example; returns a dict of float arrays (see module doc).

  Besides the stored fields, returns 'background' [N, N, 3] in [0, 1] (the
  downsampled background alone), 'image' as float [N, N, 3] in [0, 1] and
  'overflow' (triangles clipped by the rasterizer window; must be 0).

  ``relief_scale`` multiplies the object z of the face's vertices before
  anything is rendered: 1 is the data set; -1 turns the face inside out
  (the hollow face), 0 flattens it onto the z = 0 plane. ``shear`` then
  adds shear * y to that z: t > 0 turns the face's surface down (its lean
  about -t / sqrt(1 + t^2)), t < 0 up. Diagnostics only
  (`benchmarks.discriminator_probe`); the data set always uses 1 and 0.
  """
  n, s = spec.resolution, spec.hires
  k_u, k_pts = jax.random.fold_in(key, 3), jax.random.fold_in(key, 4)
  # View (2), light direction (2), ambient (1): one draw (fast compilation).
  u = jax.random.uniform(k_u, (5,))
  scene = face_scene(key, spec, relief_scale, shear)
  verts, tri = scene[0], scene[1]
  view, light, ambient = view_and_light(spec, u)
  image, out, nrm = _photo(spec, scene, view, light, ambient)
  cov, m, depth, normals = _downsample_gt(spec, out.mask, out.depth, nrm)
  canon_settings = dataclasses.replace(_hires_settings(spec), window=spec.canonical_window)
  canon = render.render_mesh(verts, tri, settings=canon_settings,
                             attributes=verts)
  _, _, canon_depth = _downsample_gt(spec, canon.mask, canon.depth)
  flat_mask = canon.mask.reshape(-1)
  idx = jax.random.choice(k_pts, s * s, (spec.num_points,), replace=False,
                          p=flat_mask / jnp.sum(flat_mask))
  points = canon.image.reshape(-1, 3)[idx]
  result = dict(image=image, depth=depth,
                normals=normals, mask=m, coverage=cov, viewpoint=view,
                canonical_depth=canon_depth, canonical_points=points,
                background=scene[4],
                overflow=out.overflow + canon.overflow)
  chex.assert_shape(result['image'], (n, n, 3))
  chex.assert_shape(result['canonical_points'], (spec.num_points, 3))
  return result


@functools.partial(jax.jit, static_argnums=(1,))
def render_batch(keys, spec: SynthSpec, relief_scale=1.0, shear=0.0):
  """`render_example` vmapped over keys [B] (or [B, 2] raw keys);
  ``relief_scale`` and ``shear`` (traced: no recompilation) as there."""
  return jax.vmap(lambda k: render_example(k, spec, relief_scale, shear))(keys)


def example_keys(seed: int, split: str, indices):
  """Per-example keys: fold_in(fold_in(PRNGKey(seed), split_id), index)."""
  base = jax.random.fold_in(jax.random.PRNGKey(seed), SPLITS.index(split))
  return jax.vmap(lambda i: jax.random.fold_in(base, i))(
      jnp.asarray(indices, jnp.uint32))


def to_uint8(image) -> np.ndarray:
  """Float image(s) in [0, 1] -> uint8, as the data set stores its photos."""
  return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def to_record(ex: dict, i: int) -> dict:
  """Float example (numpy, one item) -> stored fields (uint8 image etc.)."""
  return dict(
      image=to_uint8(ex['image']),
      depth=ex['depth'].astype(np.float32),
      normals=ex['normals'].astype(np.float16),
      mask=ex['mask'].astype(bool),
      coverage=np.round(ex['coverage'] * 255).astype(np.uint8),
      viewpoint=ex['viewpoint'].astype(np.float32),
      canonical_depth=ex['canonical_depth'].astype(np.float32),
      canonical_points=ex['canonical_points'].astype(np.float32),
      index=np.int64(i))


def render_without_overflow(keys, spec: SynthSpec, max_window: int = 32,
                            relief_scale: float = 1.0, shear: float = 0.0):
  """`render_batch`, re-rendered with larger windows while triangles overflow.

  The window only bounds the pixels tested per triangle, so a render without
  overflow is the same whatever the window: results stay deterministic.
  """
  while True:
    out = jax.device_get(render_batch(keys, spec, relief_scale, shear))
    if int(np.max(out['overflow'])) == 0:
      return out
    if max(spec.window, spec.canonical_window) >= max_window:
      raise RuntimeError(
          f'synthetic faces: {int(np.max(out["overflow"]))} triangles '
          f'overflow the rasterizer window even at {max_window}')
    spec = dataclasses.replace(spec, window=spec.window + 2,
                               canonical_window=spec.canonical_window + 2)


def generate(spec: SynthSpec, seed: int, split: str, num: int,
             batch_size: int, show_progress: bool = True
             ) -> Iterator[tuple[int, dict]]:
  """Yields (index, record) for examples 0..num-1 of `split`, in batches.

  The last batch is padded to `batch_size` (no recompilation) and trimmed.
  Batches where a triangle overflows the rasterizer window are re-rendered
  with a larger window (same result, see `render_without_overflow`).
  """
  if batch_size < 1:
    raise ValueError(f'synthetic.gen_batch_size={batch_size}: must be >= 1')
  bar = (tfds_util.progress(num, f'synthetic faces {split} '
                            f'({spec.resolution}px)')
         if show_progress else None)
  try:
    for start in range(0, num, batch_size):
      idx = np.arange(start, start + batch_size)
      count = min(batch_size, num - start)
      out = render_without_overflow(example_keys(seed, split, idx), spec)
      for b in range(count):
        yield start + b, to_record({k: v[b] for k, v in out.items()},
                                   start + b)
      if bar is not None:
        bar.update(count)
  finally:
    if bar is not None:
      bar.close()


def builder_name(config) -> str:
  """Config name of the builder: resolution, counts and a hash of all knobs."""
  spec = spec_from_config(config)
  s = config.data.synthetic
  spec_dict = dataclasses.asdict(spec)
  if spec_dict['light_frame'] == 'camera':
    # The default before the knob existed: data sets built then keep their name.
    del spec_dict['light_frame']
  if spec_dict['light_tilt_deg'] == 0.0:
    del spec_dict['light_tilt_deg']   # likewise
  ident = dict(spec=spec_dict, seed=int(s.seed),
               num_train=int(s.num_train), num_test=int(s.num_test),
               version=VERSION)
  return (f'r{spec.resolution}_n{int(s.num_train)}_{int(s.num_test)}_'
          f's{int(s.seed)}_{tfds_util.config_hash(ident)}')


@functools.lru_cache(maxsize=None)
def _builder_classes():
  """Defines the tfds classes (imports tensorflow_datasets lazily)."""
  tfds = tfds_util.import_tfds()

  @dataclasses.dataclass
  class SyntheticFacesConfig(tfds.core.BuilderConfig):
    spec: SynthSpec | None = None
    seed: int = 0
    num_train: int = 0
    num_test: int = 0
    gen_batch_size: int = 16

  class Gan3dSyntheticFaces(tfds.core.GeneratorBasedBuilder):
    """Procedural 3D faces with depth, normals, mask, viewpoint ground truth."""
    VERSION = tfds.core.Version(VERSION)
    BUILDER_CONFIGS = []
    # Nothing is downloaded: no checksums file (also avoids tfds looking up
    # this module's resources, which needs the importlib_resources package).
    url_infos = None

    def _info(self):
      c = self.builder_config
      n, p = c.spec.resolution, c.spec.num_points
      f = tfds.features
      return tfds.core.DatasetInfo(
          builder=self,
          description=__doc__,
          features=f.FeaturesDict({
              'image': f.Image(shape=(n, n, 3)),
              'depth': f.Tensor(shape=(n, n), dtype=np.float32),
              'normals': f.Tensor(shape=(n, n, 3), dtype=np.float16),
              'mask': f.Tensor(shape=(n, n), dtype=np.bool_),
              'coverage': f.Tensor(shape=(n, n), dtype=np.uint8),
              'viewpoint': f.Tensor(shape=(2,), dtype=np.float32),
              'canonical_depth': f.Tensor(shape=(n, n), dtype=np.float32),
              'canonical_points': f.Tensor(shape=(p, 3), dtype=np.float32),
              'index': f.Scalar(dtype=np.int64),
          }))

    def _split_generators(self, dl_manager):
      del dl_manager
      c = self.builder_config
      counts = {'train': c.num_train, 'test': c.num_test}
      return {split: self._generate_examples(split, num)
              for split, num in counts.items() if num > 0}

    def _generate_examples(self, split, num):
      c = self.builder_config
      yield from generate(c.spec, c.seed, split, num, c.gen_batch_size)

  return SyntheticFacesConfig, Gan3dSyntheticFaces


def builder(config):
  """The (possibly not yet built) tfds builder of the synthetic face set."""
  s = config.data.synthetic
  if int(s.num_train) < 1 or int(s.num_test) < 0:
    raise ValueError(f'synthetic.num_train={s.num_train} must be >= 1 and '
                     f'num_test={s.num_test} >= 0')
  cfg_cls, builder_cls = _builder_classes()
  bc = cfg_cls(name=builder_name(config), spec=spec_from_config(config),
               seed=int(s.seed), num_train=int(s.num_train),
               num_test=int(s.num_test), gen_batch_size=int(s.gen_batch_size))
  return builder_cls(config=bc, data_dir=tfds_util.data_dir(config),
                     file_format='array_record')


def build(config):
  """Builds the synthetic set into config.data.data_dir if needed; returns it."""
  return tfds_util.prepare(builder(config), build_if_missing=True,
                           what='synthetic face set')
