"""Default `config.data` sections (ml_collections ConfigDict).

`data_config(variant)` returns the `config.data` section for one of the three
input pipelines; every knob is documented here. The image resolution is not a
data knob: the pipelines read the top-level `config.resolution` (N), the seed
for shuffling and flips is `config.seed`, and the global batch size is
`config.train.batch_size`.

  config.data.name         'synthetic' | 'ffhq' | 'folder'
  config.data.data_dir     where tensorflow-datasets builds its array_record
                           files ('~' is expanded). Nothing is ever downloaded.
  config.data.path         source folder of the images ('ffhq' and 'folder');
                           unused by 'synthetic'.
  config.data.split        split the training iterator reads ('train').
  config.data.build_if_missing  build the data set on first use if it is not
                           in data_dir yet (else fail with a clear message).
  config.data.flip         random horizontal flips (p = 1/2) in training.
  config.data.prefetch     batches prepared ahead by a background thread.
  config.data.synthetic.*  the synthetic face set (see below)
  config.data.folder.*     decoding of image folders ('ffhq' and 'folder')

Synthetic faces (`config.data.synthetic`):
  num_train, num_test      images per split.
  seed                     generation seed: the data set is a function of this
                           seed and the other knobs (not of config.seed).
  yaw_range_deg, pitch_range_deg  uniform viewpoint prior, degrees (paper
                           section 7: yaw +-45, pitch +-15).
  camera_distance          D of the renderer; keep equal to
                           config.render.camera_distance for 3D evaluation.
  supersample              render at this many times N per axis with the
                           crisp rasterizer, then box-downsample (anti-aliasing).
  mesh_res_factor          face grid has round(factor * N) vertices per side.
  window                   rasterizer window K at the supersampled resolution;
                           batches where a triangle overflows it are
                           re-rendered with a larger window (same result,
                           slower), so this is a speed knob.
  canonical_window         the same for the frontal (canonical) render.
  disc_radius              radius R of the face disc in object units.
  fit_radius               meshes are scaled to lie within this radius (<= 1).
  texture_res_factor       face texture is factor * N texels per side.
  shading                  Lambertian shading (else flat albedo).
  ambient                  (min, max) ambient light fraction.
  light_spread_deg         light direction within this angle of the view axis
                           ('camera' frame) or of the face's front, +z
                           ('object' frame).
  light_tilt_deg           the centre of that cone turned this many degrees
                           up (+y) from the view axis / the face's front:
                           0 = centred on it (the default); natural photos
                           are mostly lit from above, and a tilted light
                           tells a hollow face from a convex one (README
                           "The discriminator cannot tell a hollow face ...").
  light_frame              'camera': the light is drawn relative to the camera,
                           so the shading of a face changes with the viewpoint
                           (a flash-like light, as in many photos; the
                           generator, which has no lighting, cannot reproduce
                           it exactly); 'object': drawn relative to the face
                           and turned with it, so the shading is
                           view-independent and a texture can hold it.
  bg_noise_octaves         octaves of background noise (2, 4, 8, ... cells).
  bg_noise_strength        (min, max) amplitude of background noise; min > 0.
  bg_texture_strength      (min, max) amplitude of the stripe/cell pattern.
  num_points               size of the canonical visible-surface point set.
  gen_batch_size           examples rendered per jit+vmap call.
  face                     (min, max) range of every face parameter
                           (`gan3d.data.faces.DEFAULT_RANGES`).

Folders (`config.data.folder`):
  crop                     'center': centre crop to a square first;
                           'none': resize the whole image (changes aspect).
  resize                   'lanczos' | 'bicubic' | 'box' (PIL, antialiased).
  small_images             'reject': skip images smaller than N (counted in
                           the warning); 'upscale': upscale them, with a warning.
  test_fraction            fraction of images put in the 'test' split, chosen
                           by a hash of the relative path (deterministic);
                           0 = 'train' only.
  extensions               file name endings read (case-insensitive).
  warn_paths               how many bad paths the warning names.
  num_workers              threads decoding and resizing images when building.
"""
from __future__ import annotations

import ml_collections

from gan3d.data import faces

VARIANTS = ('synthetic', 'ffhq', 'folder')


def synthetic_config() -> ml_collections.ConfigDict:
  """The `config.data.synthetic` section (see module docstring)."""
  c = ml_collections.ConfigDict()
  c.num_train = 4096
  c.num_test = 512
  c.seed = 0
  c.yaw_range_deg = (-45.0, 45.0)
  c.pitch_range_deg = (-15.0, 15.0)
  c.camera_distance = 4.0
  c.supersample = 4
  c.mesh_res_factor = 2.0
  c.window = 6
  c.canonical_window = 4
  c.disc_radius = 0.85
  c.fit_radius = 0.98
  c.texture_res_factor = 4
  c.shading = True
  c.ambient = (0.35, 0.6)
  c.light_spread_deg = 40.0
  c.light_frame = 'camera'
  c.light_tilt_deg = 0.0
  c.bg_noise_octaves = 5
  c.bg_noise_strength = (0.08, 0.35)
  c.bg_texture_strength = (0.0, 0.15)
  c.num_points = 1024
  c.gen_batch_size = 16
  c.face = ml_collections.ConfigDict(
      {k: tuple(v) for k, v in faces.DEFAULT_RANGES.items()})
  return c


def folder_config(test_fraction: float = 0.0) -> ml_collections.ConfigDict:
  """The `config.data.folder` section (see module docstring)."""
  c = ml_collections.ConfigDict()
  c.crop = 'center'
  c.resize = 'lanczos'
  c.small_images = 'reject'
  c.test_fraction = test_fraction
  c.extensions = ('png', 'jpg', 'jpeg', 'webp')
  c.warn_paths = 5
  c.num_workers = 4
  return c


def data_config(variant: str = 'synthetic') -> ml_collections.ConfigDict:
  """`config.data` for `variant` in ('synthetic', 'ffhq', 'folder')."""
  if variant not in VARIANTS:
    raise ValueError(f'data_config: variant={variant!r}, expected one of '
                     f'{VARIANTS}')
  c = ml_collections.ConfigDict()
  c.name = variant
  c.data_dir = '~/gan3d_datasets'
  c.path = ''
  c.split = 'train'
  c.build_if_missing = True
  c.flip = True
  c.prefetch = 2
  c.synthetic = synthetic_config()
  c.folder = folder_config()
  return c
