"""Tests of the image-folder / FFHQ builders and the training iterator."""
import os
import warnings

import ml_collections
import numpy as np
import pytest
from PIL import Image

from gan3d import data
from gan3d.data import folder
from gan3d.data import pipeline

N = 16


def make_config(src, dst, name='folder', batch=4, **fold):
  c = ml_collections.ConfigDict()
  c.seed = 5
  c.resolution = N
  c.train = ml_collections.ConfigDict({'batch_size': batch})
  c.data = data.data_config(name)
  c.data.path = str(src)
  c.data.data_dir = str(dst)
  for k, v in fold.items():
    setattr(c.data.folder, k, v)
  return c


def write_images(root, count, size=(40, 30), start=0, sub='', fmt='png',
                 mode='RGB'):
  os.makedirs(os.path.join(root, sub), exist_ok=True)
  rng = np.random.default_rng(start)
  paths = []
  for i in range(start, start + count):
    arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    img = Image.fromarray(arr).convert(mode)
    p = os.path.join(root, sub, f'img{i:03d}.{fmt}')
    img.save(p)
    paths.append(p)
  return paths


@pytest.fixture(scope='module')
def good_folder(tmp_path_factory):
  root = tmp_path_factory.mktemp('good')
  write_images(root, 10)
  write_images(root, 6, start=10, sub='a/b', fmt='jpg')
  write_images(root, 4, start=20, sub='c', fmt='webp')
  write_images(root, 2, start=30, fmt='jpeg', mode='L')
  write_images(root, 2, start=40, fmt='png', mode='RGBA')
  (root / 'notes.txt').write_text('not an image')
  return root


def test_folder_builds_all_formats(good_folder, tmp_path):
  config = make_config(good_folder, tmp_path, test_fraction=0.25)
  with warnings.catch_warnings():
    warnings.simplefilter('error')            # no warning for good files
    b = pipeline.get_builder(config)
  train = b.info.splits['train'].num_examples
  test = b.info.splits['test'].num_examples
  assert train + test == 24 and train > 0 and test > 0
  src = b.as_data_source('train')
  ex = src[0]
  assert ex['image'].shape == (N, N, 3) and ex['image'].dtype == np.uint8
  # The split is a deterministic function of the relative path.
  for s in ('train', 'test'):
    for e in b.as_data_source(s):
      rel = e['path'].decode() if isinstance(e['path'], bytes) else e['path']
      assert folder.split_of(rel, 0.25) == s


def test_resize_is_antialiased_centre_crop(tmp_path):
  root = tmp_path / 'src'
  root.mkdir()
  # 64 x 32 image: left and right quarters red, centre square a fine
  # black / white checkerboard that averages to grey.
  arr = np.zeros((32, 64, 3), np.uint8)
  arr[:, :16] = arr[:, 48:] = (255, 0, 0)
  yy, xx = np.mgrid[:32, :32]
  arr[:, 16:48] = (((yy + xx) % 2) * 255)[..., None]
  Image.fromarray(arr).save(root / 'x.png')
  config = make_config(root, tmp_path / 'out', resize='box')
  img = pipeline.get_builder(config).as_data_source('train')[0]['image']
  np.testing.assert_allclose(img, 127.5, atol=1.5)   # no red, no aliasing


def test_bad_files_skipped_and_counted(tmp_path):
  root = tmp_path / 'src'
  good = write_images(root, 5)
  small = write_images(root, 2, size=(8, 8), start=50)
  (root / 'corrupt.png').write_bytes(b'not a png at all')
  trunc = write_images(root, 1, size=(64, 64), start=60, fmt='png')[0]
  with open(trunc, 'rb') as f:
    raw = f.read()
  with open(trunc, 'wb') as f:
    f.write(raw[: len(raw) // 2])
  config = make_config(root, tmp_path / 'out')
  with pytest.warns(UserWarning) as rec:
    b = pipeline.get_builder(config)
  msgs = [str(w.message) for w in rec]
  corrupt = [m for m in msgs if 'corrupt' in m]
  assert len(corrupt) == 1 and ' 2 corrupt' in corrupt[0]
  assert 'corrupt.png' in corrupt[0] and os.path.basename(trunc) in corrupt[0]
  assert any(' 2 images smaller' in m for m in msgs)
  assert b.info.splits['train'].num_examples == len(good)
  del small


def test_small_images_upscaled(tmp_path):
  root = tmp_path / 'src'
  write_images(root, 3, size=(8, 8))
  config = make_config(root, tmp_path / 'out', small_images='upscale')
  with pytest.warns(UserWarning, match='3 images smaller .* upscaled'):
    b = pipeline.get_builder(config)
  assert b.info.splits['train'].num_examples == 3


@pytest.mark.parametrize('mode', ['L', 'RGBA', 'P', 'I;16', 'CMYK', 'LA'])
def test_modes_converted_to_rgb(tmp_path, mode):
  arr = np.random.default_rng(0).integers(0, 256, (20, 20, 3), np.uint8)
  img = Image.fromarray(arr)
  if mode == 'I;16':
    img = Image.fromarray(arr[..., 0].astype(np.uint16) * 257)
  else:
    img = img.convert(mode)
  fmt = 'jpg' if mode == 'CMYK' else 'png'
  p = tmp_path / f'x.{fmt}'
  img.save(p)
  spec = folder.spec_from_config(make_config(tmp_path, tmp_path))
  out, problem = folder.load_image(str(p), spec)
  assert problem is None
  assert out.shape == (N, N, 3) and out.dtype == np.uint8


def test_missing_empty_and_unreadable_folders(tmp_path):
  with pytest.raises(FileNotFoundError, match='does not exist'):
    pipeline.get_builder(make_config(tmp_path / 'nope', tmp_path))
  (tmp_path / 'empty').mkdir()
  (tmp_path / 'empty' / 'readme.txt').write_text('x')
  with pytest.raises(ValueError, match='no image files'):
    pipeline.get_builder(make_config(tmp_path / 'empty', tmp_path))
  bad = tmp_path / 'bad'
  bad.mkdir()
  (bad / 'a.jpg').write_bytes(b'garbage')
  (bad / 'b.png').write_bytes(b'\x89PNG\r\n\x1a\n garbage')
  with pytest.raises(ValueError, match='no readable training image'):
    with warnings.catch_warnings():
      warnings.simplefilter('ignore')
      pipeline.get_builder(make_config(bad, tmp_path / 'out'))
  with pytest.raises(ValueError, match='config.data.path is empty'):
    pipeline.get_builder(make_config('', tmp_path))


def test_ffhq_builder(good_folder, tmp_path):
  config = make_config(good_folder, tmp_path, name='ffhq')
  b = pipeline.get_builder(config)
  assert b.name == 'gan3d_ffhq'
  assert b.info.splits['train'].num_examples == 24   # ffhq: all in train
  assert 'test' not in b.info.splits


@pytest.fixture(scope='module')
def numbered(tmp_path_factory):
  """A folder of 22 images whose mean grey level encodes their number."""
  root = tmp_path_factory.mktemp('numbered')
  for i in range(22):
    arr = np.full((N, N, 3), 10 * i + 5, np.uint8)
    arr[:, : N // 2, 0] = 0          # left half marker: detects flips
    Image.fromarray(arr).save(root / f'{i:02d}.png')
  config = make_config(root, tmp_path_factory.mktemp('numbered_out'))
  pipeline.get_builder(config)
  return config


def _ids(batch):
  return np.round((batch['image'][..., 1].mean((1, 2)) + 1) * 127.5 / 10
                  - 0.5).astype(int)


def test_iterator_shapes_values(numbered):
  config = numbered
  it = data.make_train_iterator(config)
  batch = next(it)
  assert set(batch) == {'image'}
  assert batch['image'].shape == (4, N, N, 3)
  assert batch['image'].dtype == np.float32
  assert batch['image'].min() >= -1 and batch['image'].max() <= 1
  assert batch['image'].min() == -1      # the marker (0 -> -1)


def test_iterator_epochs_cover_and_deterministic(numbered):
  config = numbered.copy_and_resolve_references()
  config.train.batch_size = 2
  it1, it2 = data.make_train_iterator(config), data.make_train_iterator(config)
  seen = np.concatenate([_ids(next(it1)) for _ in range(11)])
  assert sorted(seen) == list(range(22))          # one epoch = a permutation
  again = np.concatenate([_ids(next(it2)) for _ in range(11)])
  np.testing.assert_array_equal(seen, again)
  config.seed = 6
  it3 = data.make_train_iterator(config)
  other = np.concatenate([_ids(next(it3)) for _ in range(11)])
  assert sorted(other) == list(range(22))
  assert not np.array_equal(other, seen)          # another seed, another order


@pytest.mark.parametrize('count', [1, 2, 3])
def test_hosts_disjoint_and_covering(numbered, count):
  config = numbered.copy_and_resolve_references()
  config.train.batch_size = count
  per_host = []
  for p in range(count):
    lo, hi = data.host_slice(22, p, count)
    it = data.make_train_iterator(config, process_index=p, process_count=count)
    ids = np.concatenate([_ids(next(it)) for _ in range(hi - lo)])
    assert len(set(ids)) == hi - lo                 # one local epoch
    per_host.append(set(ids))
  union = set().union(*per_host)
  assert union == set(range(22))
  assert sum(len(s) for s in per_host) == 22


def test_flips(numbered):
  config = numbered.copy_and_resolve_references()
  config.train.batch_size = 22
  left = next(data.make_train_iterator(config))['image'][:, :, 0, 0]
  flipped = left[:, 0] > -1       # left column not the marker: flipped
  assert 0 < flipped.sum() < 22
  config.data.flip = False
  left = next(data.make_train_iterator(config))['image'][:, :, 0, 0]
  assert np.all(left == -1)


def test_batch_divisibility_and_bad_index(numbered):
  config = numbered.copy_and_resolve_references()
  config.train.batch_size = 5
  with pytest.raises(ValueError, match='not divisible'):
    data.make_train_iterator(config, process_index=0, process_count=2)
  with pytest.raises(ValueError, match='process_index'):
    data.make_train_iterator(config, process_index=1, process_count=1)
  config.data.name = 'imagenet'
  with pytest.raises(ValueError, match="config.data.name='imagenet'"):
    data.make_train_iterator(config)


def test_not_built_and_no_build(good_folder, tmp_path):
  config = make_config(good_folder, tmp_path / 'fresh')
  config.data.build_if_missing = False
  with pytest.raises(FileNotFoundError, match='not built'):
    data.make_train_iterator(config)


def test_unknown_variant():
  with pytest.raises(ValueError, match='variant'):
    data.data_config('imagenet')
