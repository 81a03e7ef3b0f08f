"""FFHQ and any image folder as tensorflow-datasets builders (array_record).

Nothing is downloaded: the user points `config.data.path` at a local folder.
Every image file under it (recursively; extensions `folder.extensions`, case
insensitive) is decoded with PIL, converted to RGB (grayscale, palette, CMYK,
16-bit and RGBA images; the alpha channel is dropped), optionally centre-cropped
to a square, and resized with an antialiasing filter to N x N
(N = config.resolution). Splits are chosen by a hash of the relative path, so
they are deterministic and stable when files are added.

Bad input:
  * a missing folder, a path that is not a folder, or a folder without image
    files: FileNotFoundError / ValueError at once, naming the path;
  * corrupt or truncated files are skipped and counted; after building, one
    warning gives the count and the first `folder.warn_paths` paths;
  * images smaller than N (after the crop) are skipped and counted
    (`small_images='reject'`) or upscaled (`'upscale'`), with the same kind of
    warning;
  * no readable image at all: ValueError.

FFHQ is an image folder too (`Gan3dFfhq` differs only by name and docs): the
official repository (github.com/NVlabs/ffhq-dataset) provides images1024x1024
(70k PNGs) and thumbnails128x128; download one of them yourself and set
config.data.path to it.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import hashlib
import os
import warnings
from typing import Iterator, Sequence

import numpy as np
from PIL import Image

from gan3d.data import tfds_util

VERSION = '1.0.0'
_FILTERS = {'lanczos': Image.Resampling.LANCZOS,
            'bicubic': Image.Resampling.BICUBIC,
            'box': Image.Resampling.BOX}


@dataclasses.dataclass(frozen=True)
class FolderSpec:
  """Static description of how a folder becomes a data set."""
  kind: str                 # 'ffhq' | 'folder'
  root: str                 # absolute path
  resolution: int
  crop: str
  resize: str
  small_images: str
  test_fraction: float
  extensions: tuple[str, ...]
  warn_paths: int
  num_workers: int


def spec_from_config(config) -> FolderSpec:
  """Validated `FolderSpec` from config.data (name, path, folder.*)."""
  d, f = config.data, config.data.folder
  n = int(config.resolution)
  if n < 1:
    raise ValueError(f'config.resolution={n}: must be >= 1')
  if d.name not in ('ffhq', 'folder'):
    raise ValueError(f'config.data.name={d.name!r} is not a folder data set')
  if not d.path:
    raise ValueError(f'config.data.path is empty: set it to the local folder '
                     f'of the {d.name} images')
  if f.crop not in ('center', 'none'):
    raise ValueError(f"folder.crop={f.crop!r}: expected 'center' or 'none'")
  if f.resize not in _FILTERS:
    raise ValueError(f'folder.resize={f.resize!r}: expected one of '
                     f'{sorted(_FILTERS)}')
  if f.small_images not in ('reject', 'upscale'):
    raise ValueError(f"folder.small_images={f.small_images!r}: expected "
                     "'reject' or 'upscale'")
  if not 0.0 <= float(f.test_fraction) < 1.0:
    raise ValueError(f'folder.test_fraction={f.test_fraction}: must be in '
                     '[0, 1)')
  return FolderSpec(
      kind=d.name, root=os.path.abspath(os.path.expanduser(d.path)),
      resolution=n, crop=f.crop, resize=f.resize, small_images=f.small_images,
      test_fraction=float(f.test_fraction),
      extensions=tuple(e.lower().lstrip('.') for e in f.extensions),
      warn_paths=int(f.warn_paths), num_workers=max(1, int(f.num_workers)))


def list_images(root: str, extensions: Sequence[str]) -> list[str]:
  """Sorted relative paths of the image files under root (recursive).

  Raises FileNotFoundError for a missing root, NotADirectoryError for a file,
  ValueError when no file has one of the extensions.
  """
  if not os.path.exists(root):
    raise FileNotFoundError(f'image folder {root!r} does not exist')
  if not os.path.isdir(root):
    raise NotADirectoryError(f'image folder {root!r} is not a directory')
  exts = tuple('.' + e.lower() for e in extensions)
  out = []
  for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
    dirnames.sort()
    for name in filenames:
      if name.lower().endswith(exts) and not name.startswith('.'):
        out.append(os.path.relpath(os.path.join(dirpath, name), root))
  if not out:
    raise ValueError(f'image folder {root!r} holds no image files '
                     f'(extensions {", ".join(exts)})')
  return sorted(out)


def split_of(relpath: str, test_fraction: float) -> str:
  """'test' for a deterministic `test_fraction` of paths (by SHA-1), else 'train'."""
  h = int.from_bytes(hashlib.sha1(relpath.encode()).digest()[:8], 'big')
  return 'test' if h / 2.0 ** 64 < test_fraction else 'train'


def to_rgb(img: Image.Image) -> Image.Image:
  """Any PIL mode -> 'RGB' (alpha dropped; 16-bit / float scaled to 8 bit)."""
  if img.mode == 'RGB':
    return img
  if img.mode in ('I', 'I;16', 'I;16B', 'I;16L', 'F'):
    a = np.asarray(img, np.float64)
    top = 65535.0 if a.max() > 255 else 255.0
    a = np.clip(a / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(a, 'L').convert('RGB')
  if img.mode in ('P', 'PA', 'LA', 'La', 'RGBa'):
    img = img.convert('RGBA')
  return img.convert('RGB')


def load_image(path: str, spec: FolderSpec):
  """Decodes, converts, crops and resizes one file.

  Returns (uint8 [N, N, 3] or None, problem): problem is None, 'corrupt'
  (unreadable or truncated), 'small' (rejected) or 'upscaled'.
  """
  n = spec.resolution
  try:
    with Image.open(path) as img:
      img.load()                 # raises on truncated data
      img = to_rgb(img)
  except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
    return None, 'corrupt'
  w, h = img.size
  if spec.crop == 'center':
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    img = img.crop((left, top, left + s, top + s))
    w = h = s
  problem = None
  if min(w, h) < n:
    if spec.small_images == 'reject':
      return None, 'small'
    problem = 'upscaled'
  if (w, h) != (n, n):
    img = img.resize((n, n), _FILTERS[spec.resize], reducing_gap=None)
  arr = np.asarray(img, np.uint8)
  return arr, problem


def builder_name(spec: FolderSpec, relpaths: Sequence[str]) -> str:
  """Config name: resolution + hash of the options and of the file list."""
  ident = dict(spec=dataclasses.asdict(spec), version=VERSION,
               files=tfds_util.config_hash(list(relpaths)))
  return f'r{spec.resolution}_{tfds_util.config_hash(ident)}'


def _warn_problems(spec: FolderSpec, problems: dict[str, list[str]]):
  """One warning per kind of problem, with the count and the first paths."""
  text = {'corrupt': 'corrupt or truncated files were skipped',
          'small': (f'images smaller than {spec.resolution} px were skipped '
                    "(folder.small_images='reject')"),
          'upscaled': (f'images smaller than {spec.resolution} px were '
                       "upscaled (folder.small_images='upscale')")}
  for kind, paths in problems.items():
    if paths:
      paths = sorted(paths)
      warnings.warn(f'{spec.root}: {len(paths)} {text[kind]}; first: '
                    f'{paths[:spec.warn_paths]}', stacklevel=3)


def _decode_all(spec: FolderSpec, relpaths: Sequence[str], problems
                ) -> Iterator[tuple[str, np.ndarray]]:
  """Decodes files in a thread pool (in order); records problems by kind."""
  def work(rel):
    return rel, load_image(os.path.join(spec.root, rel), spec)
  chunk = 64 * spec.num_workers
  with concurrent.futures.ThreadPoolExecutor(spec.num_workers) as pool:
    for start in range(0, len(relpaths), chunk):
      for rel, (arr, problem) in pool.map(work, relpaths[start:start + chunk]):
        if problem is not None:
          problems[problem].append(rel)
        if arr is not None:
          yield rel, arr


@functools.lru_cache(maxsize=None)
def _builder_classes():
  """Defines the tfds classes (imports tensorflow_datasets lazily)."""
  tfds = tfds_util.import_tfds()

  @dataclasses.dataclass
  class FolderConfig(tfds.core.BuilderConfig):
    spec: FolderSpec | None = None

  class _FolderBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Images of a local folder, resized to N x N."""
    VERSION = tfds.core.Version(VERSION)
    BUILDER_CONFIGS = []
    # Nothing is downloaded: no checksums file (also avoids tfds looking up
    # this module's resources, which needs the importlib_resources package).
    url_infos = None

    def __init__(self, *, relpaths: Sequence[str], **kwargs):
      super().__init__(**kwargs)
      self.relpaths = tuple(relpaths)   # not in the config: keeps logs short
      self.problems = {'corrupt': [], 'small': [], 'upscaled': []}

    def _info(self):
      n = self.builder_config.spec.resolution
      return tfds.core.DatasetInfo(
          builder=self, description=__doc__,
          features=tfds.features.FeaturesDict({
              'image': tfds.features.Image(shape=(n, n, 3)),
              'path': tfds.features.Text(),
          }))

    def _split_generators(self, dl_manager):
      del dl_manager
      spec = self.builder_config.spec
      by_split = {'train': [], 'test': []}
      for rel in self.relpaths:
        by_split[split_of(rel, spec.test_fraction)].append(rel)
      return {split: self._generate_examples(split, rels)
              for split, rels in by_split.items()
              if rels or split == 'train'}

    def _generate_examples(self, split, relpaths):
      spec = self.builder_config.spec
      count = 0
      bar = tfds_util.progress(len(relpaths), f'{spec.kind} {split}')
      try:
        for rel, arr in _decode_all(spec, relpaths, self.problems):
          count += 1
          bar.update(1)
          yield rel, {'image': arr, 'path': rel}
      finally:
        bar.close()
      if split == 'train' and count == 0:
        raise ValueError(
            f'{spec.root}: no readable training image among '
            f'{len(relpaths)} files ({len(self.problems["corrupt"])} '
            f'corrupt, {len(self.problems["small"])} smaller than '
            f'{spec.resolution} px); first: '
            f'{sorted(sum(self.problems.values(), []))[:spec.warn_paths]}')

  class Gan3dImageFolder(_FolderBuilder):
    """Any local image collection (png, jpg, jpeg, webp), recursive."""

  class Gan3dFfhq(_FolderBuilder):
    """FFHQ (Karras et al. 2019) from a local copy of its images."""

  return FolderConfig, {'folder': Gan3dImageFolder, 'ffhq': Gan3dFfhq}


def builder(config):
  """The tfds builder of config.data.path; lists the folder (fails fast)."""
  spec = spec_from_config(config)
  relpaths = list_images(spec.root, spec.extensions)
  cfg_cls, classes = _builder_classes()
  bc = cfg_cls(name=builder_name(spec, relpaths), spec=spec)
  return classes[spec.kind](config=bc, relpaths=relpaths,
                            data_dir=tfds_util.data_dir(config),
                            file_format='array_record')


def build(config, build_if_missing: bool = True):
  """Builds the folder data set if needed (warning about skipped files)."""
  b = builder(config)
  if b.is_prepared():
    return b
  try:
    tfds_util.prepare(b, build_if_missing, f'{b.builder_config.spec.kind} '
                      f'data set of {b.builder_config.spec.root}')
  finally:
    _warn_problems(b.builder_config.spec, b.problems)
  return b
