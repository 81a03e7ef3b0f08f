"""InceptionV3 feature network (pool3, 2048-d) for FID / KID, in Flax.

The architecture is the "FID Inception" of Heusel et al. 2017 as ported by
pytorch-fid (`pt_inception-2015-12-05`): torchvision's InceptionV3 layout with
the TF-graph differences (average pools that exclude padding, max pool in the
last block's pool branch, BatchNorm eps 1e-3). Input: images [B, H, W, 3] in
[-1, 1]; they are resized bilinearly to `input_size` (299 for real FID
numbers; any size >= 75 works for the architecture, tests use 75).

Weights file format (`load_params`): an .npz holding one array per leaf,
named by the Flax path joined with '/', e.g.

    Conv2d_1a_3x3/conv/kernel      [3, 3, 3, 32]     (HWIO)
    Conv2d_1a_3x3/bn/scale         [32]
    Conv2d_1a_3x3/bn/bias          [32]
    Conv2d_1a_3x3/bn/mean          [32]              (running mean)
    Conv2d_1a_3x3/bn/var           [32]              (running variance)
    Mixed_5b/branch1x1/conv/kernel [1, 1, 192, 64]
    ...

`gan3d/eval/convert_inception.py` writes this file from the standard
pytorch-fid weights (see its docstring for where they come from).
"""

from __future__ import annotations

import functools
import os
from typing import Any, Dict, Sequence, Tuple

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

FEATURE_DIM = 2048
MIN_INPUT_SIZE = 75


class BasicConv(nn.Module):
  """Conv (no bias) + inference BatchNorm (eps 1e-3) + ReLU."""
  features: int
  kernel: Tuple[int, int]
  strides: Tuple[int, int] = (1, 1)
  padding: Tuple[int, int] = (0, 0)

  @nn.compact
  def __call__(self, x):
    x = nn.Conv(self.features, self.kernel, self.strides,
                padding=[(self.padding[0],) * 2, (self.padding[1],) * 2],
                use_bias=False, name='conv')(x)
    return nn.relu(_BatchNorm(name='bn')(x))


class _BatchNorm(nn.Module):
  """Inference-only batch norm with parameters named like the weights file."""
  eps: float = 1e-3

  @nn.compact
  def __call__(self, x):
    c = x.shape[-1]
    scale = self.param('scale', nn.initializers.ones, (c,))
    bias = self.param('bias', nn.initializers.zeros, (c,))
    mean = self.param('mean', nn.initializers.zeros, (c,))
    var = self.param('var', nn.initializers.ones, (c,))
    return (x - mean) * (scale / jnp.sqrt(var + self.eps)) + bias


def _avg_pool_excl_pad(x):
  """3x3 stride-1 average pool, padding 1, padding excluded from the count."""
  s = nn.avg_pool(x, (3, 3), (1, 1), padding=((1, 1), (1, 1)), count_include_pad=False)
  return s


def _max_pool(x, stride=2, pad=0):
  return nn.max_pool(x, (3, 3), (stride, stride), padding=((pad, pad), (pad, pad)))


class InceptionA(nn.Module):
  pool_features: int

  @nn.compact
  def __call__(self, x):
    b1 = BasicConv(64, (1, 1), name='branch1x1')(x)
    b5 = BasicConv(48, (1, 1), name='branch5x5_1')(x)
    b5 = BasicConv(64, (5, 5), padding=(2, 2), name='branch5x5_2')(b5)
    b3 = BasicConv(64, (1, 1), name='branch3x3dbl_1')(x)
    b3 = BasicConv(96, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(b3)
    b3 = BasicConv(96, (3, 3), padding=(1, 1), name='branch3x3dbl_3')(b3)
    bp = BasicConv(self.pool_features, (1, 1), name='branch_pool')(_avg_pool_excl_pad(x))
    return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):

  @nn.compact
  def __call__(self, x):
    b3 = BasicConv(384, (3, 3), (2, 2), name='branch3x3')(x)
    bd = BasicConv(64, (1, 1), name='branch3x3dbl_1')(x)
    bd = BasicConv(96, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(bd)
    bd = BasicConv(96, (3, 3), (2, 2), name='branch3x3dbl_3')(bd)
    return jnp.concatenate([b3, bd, _max_pool(x)], axis=-1)


class InceptionC(nn.Module):
  channels_7x7: int

  @nn.compact
  def __call__(self, x):
    c7 = self.channels_7x7
    b1 = BasicConv(192, (1, 1), name='branch1x1')(x)
    b7 = BasicConv(c7, (1, 1), name='branch7x7_1')(x)
    b7 = BasicConv(c7, (1, 7), padding=(0, 3), name='branch7x7_2')(b7)
    b7 = BasicConv(192, (7, 1), padding=(3, 0), name='branch7x7_3')(b7)
    bd = BasicConv(c7, (1, 1), name='branch7x7dbl_1')(x)
    bd = BasicConv(c7, (7, 1), padding=(3, 0), name='branch7x7dbl_2')(bd)
    bd = BasicConv(c7, (1, 7), padding=(0, 3), name='branch7x7dbl_3')(bd)
    bd = BasicConv(c7, (7, 1), padding=(3, 0), name='branch7x7dbl_4')(bd)
    bd = BasicConv(192, (1, 7), padding=(0, 3), name='branch7x7dbl_5')(bd)
    bp = BasicConv(192, (1, 1), name='branch_pool')(_avg_pool_excl_pad(x))
    return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):

  @nn.compact
  def __call__(self, x):
    b3 = BasicConv(192, (1, 1), name='branch3x3_1')(x)
    b3 = BasicConv(320, (3, 3), (2, 2), name='branch3x3_2')(b3)
    b7 = BasicConv(192, (1, 1), name='branch7x7x3_1')(x)
    b7 = BasicConv(192, (1, 7), padding=(0, 3), name='branch7x7x3_2')(b7)
    b7 = BasicConv(192, (7, 1), padding=(3, 0), name='branch7x7x3_3')(b7)
    b7 = BasicConv(192, (3, 3), (2, 2), name='branch7x7x3_4')(b7)
    return jnp.concatenate([b3, b7, _max_pool(x)], axis=-1)


class InceptionE(nn.Module):
  """Last blocks; `max_pool_branch` selects the FID variant of Mixed_7c."""
  max_pool_branch: bool

  @nn.compact
  def __call__(self, x):
    b1 = BasicConv(320, (1, 1), name='branch1x1')(x)
    b3 = BasicConv(384, (1, 1), name='branch3x3_1')(x)
    b3 = jnp.concatenate([
        BasicConv(384, (1, 3), padding=(0, 1), name='branch3x3_2a')(b3),
        BasicConv(384, (3, 1), padding=(1, 0), name='branch3x3_2b')(b3)], axis=-1)
    bd = BasicConv(448, (1, 1), name='branch3x3dbl_1')(x)
    bd = BasicConv(384, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(bd)
    bd = jnp.concatenate([
        BasicConv(384, (1, 3), padding=(0, 1), name='branch3x3dbl_3a')(bd),
        BasicConv(384, (3, 1), padding=(1, 0), name='branch3x3dbl_3b')(bd)], axis=-1)
    pooled = _max_pool(x, 1, 1) if self.max_pool_branch else _avg_pool_excl_pad(x)
    bp = BasicConv(192, (1, 1), name='branch_pool')(pooled)
    return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class InceptionV3(nn.Module):
  """FID InceptionV3 up to pool3.

  Input [B, H, W, 3] already at the network's input size, values in [-1, 1].
  Output [B, 2048] pool3 features.
  """

  @nn.compact
  def __call__(self, x):
    chex.assert_rank(x, 4)
    if min(x.shape[1], x.shape[2]) < MIN_INPUT_SIZE:
      raise ValueError(f'InceptionV3 needs inputs >= {MIN_INPUT_SIZE}px, got {x.shape}')
    x = BasicConv(32, (3, 3), (2, 2), name='Conv2d_1a_3x3')(x)
    x = BasicConv(32, (3, 3), name='Conv2d_2a_3x3')(x)
    x = BasicConv(64, (3, 3), padding=(1, 1), name='Conv2d_2b_3x3')(x)
    x = _max_pool(x)
    x = BasicConv(80, (1, 1), name='Conv2d_3b_1x1')(x)
    x = BasicConv(192, (3, 3), name='Conv2d_4a_3x3')(x)
    x = _max_pool(x)
    x = InceptionA(32, name='Mixed_5b')(x)
    x = InceptionA(64, name='Mixed_5c')(x)
    x = InceptionA(64, name='Mixed_5d')(x)
    x = InceptionB(name='Mixed_6a')(x)
    x = InceptionC(128, name='Mixed_6b')(x)
    x = InceptionC(160, name='Mixed_6c')(x)
    x = InceptionC(160, name='Mixed_6d')(x)
    x = InceptionC(192, name='Mixed_6e')(x)
    x = InceptionD(name='Mixed_7a')(x)
    x = InceptionE(False, name='Mixed_7b')(x)
    x = InceptionE(True, name='Mixed_7c')(x)
    return jnp.mean(x, axis=(1, 2))


def init_params(rng: jax.Array) -> Dict[str, Any]:
  """Randomly initialised parameters (for tests; real FID needs `load_params`).

  Conv kernels are He-normal (so activations of the random network stay in a
  sane range); BatchNorm is the identity (scale 1, bias 0, mean 0, var 1).
  Built from the architecture's parameter shapes without tracing `init`.
  """
  seed = int(jax.random.randint(rng, (), 0, 2**31 - 1))
  gen = np.random.default_rng(seed)
  flat = {}
  for k, shape in sorted(_expected_shapes().items()):
    if k.endswith('/kernel'):
      fan_in = int(np.prod(shape[:-1]))
      v = gen.standard_normal(shape, np.float32) * np.float32(np.sqrt(2.0 / fan_in))
    elif k.endswith('/scale') or k.endswith('/var'):
      v = np.ones(shape, np.float32)
    else:
      v = np.zeros(shape, np.float32)
    flat[k] = jnp.asarray(v)
  return unflatten_params(flat)


def flatten_params(tree, prefix: str = '') -> Dict[str, Any]:
  """{'a': {'b': x}} -> {'a/b': x}."""
  out = {}
  for k, v in tree.items():
    name = f'{prefix}{k}'
    if isinstance(v, dict) or hasattr(v, 'items'):
      out.update(flatten_params(v, name + '/'))
    else:
      out[name] = v
  return out


def unflatten_params(flat: Dict[str, Any]) -> Dict[str, Any]:
  """{'a/b': x} -> {'a': {'b': x}}."""
  tree: Dict[str, Any] = {}
  for k, v in flat.items():
    node = tree
    parts = k.split('/')
    for p in parts[:-1]:
      node = node.setdefault(p, {})
    node[parts[-1]] = v
  return tree


def load_params(path: str) -> Dict[str, Any]:
  """Loads weights saved in the documented .npz format and checks them.

  Raises FileNotFoundError when the file is missing and ValueError when names
  or shapes do not match the architecture.
  """
  if not os.path.exists(path):
    raise FileNotFoundError(
        f'Inception weights file {path!r} not found. Create it with '
        '`python -m gan3d.eval.convert_inception --src pt_inception-2015-12-05-6726825d.pth '
        f'--out {path}` (see gan3d/eval/convert_inception.py).')
  with np.load(path) as data:
    flat = {k: np.asarray(data[k], np.float32) for k in data.files}
  expected = _expected_shapes()
  missing = sorted(set(expected) - set(flat))
  extra = sorted(set(flat) - set(expected))
  if missing or extra:
    raise ValueError(f'{path}: weights do not match InceptionV3; missing '
                     f'{missing[:5]} ({len(missing)}), unexpected {extra[:5]} ({len(extra)})')
  for k, shape in expected.items():
    if tuple(flat[k].shape) != shape:
      raise ValueError(f'{path}: {k} has shape {flat[k].shape}, expected {shape}')
  return jax.tree.map(jnp.asarray, unflatten_params(flat))


@functools.lru_cache(maxsize=1)
def _expected_shapes() -> Dict[str, Tuple[int, ...]]:
  shapes = jax.eval_shape(
      lambda: InceptionV3().init(jax.random.PRNGKey(0),
                                 jnp.zeros((1, MIN_INPUT_SIZE, MIN_INPUT_SIZE, 3))))
  return {k: tuple(v.shape) for k, v in flatten_params(shapes['params']).items()}


def save_params(path: str, params) -> None:
  """Writes parameters in the documented .npz format."""
  flat = {k: np.asarray(v, np.float32) for k, v in flatten_params(params).items()}
  np.savez(path, **flat)


@functools.partial(jax.jit, static_argnames=('input_size',))
def _features(params, images, input_size):
  b = images.shape[0]
  x = jax.image.resize(images, (b, input_size, input_size, 3), 'bilinear')
  return InceptionV3().apply({'params': params}, x)


def compute_features(params, images, input_size: int = 299,
                     batch_size: int = 50) -> np.ndarray:
  """pool3 features of a set of images.

  Args:
    params: Inception parameters (`load_params` / `init_params`).
    images: [N, H, W, 3] float in [-1, 1] (numpy or jax).
    input_size: network input size; 299 for standard FID.
    batch_size: images per forward pass (the last batch is padded so the
      function is traced once).
  Returns:
    [N, 2048] float64 numpy array.
  """
  images = np.asarray(images, np.float32)
  if images.ndim != 4 or images.shape[-1] != 3:
    raise ValueError(f'images must be [N, H, W, 3], got {images.shape}')
  if not np.all(np.isfinite(images)):
    raise ValueError('images contain NaN or inf')
  if input_size < MIN_INPUT_SIZE:
    raise ValueError(f'input_size must be >= {MIN_INPUT_SIZE}, got {input_size}')
  n = images.shape[0]
  feats = []
  for s in range(0, n, batch_size):
    chunk = images[s:s + batch_size]
    pad = batch_size - chunk.shape[0] if n > batch_size else 0
    if pad:
      chunk = np.concatenate([chunk, np.zeros((pad,) + chunk.shape[1:], np.float32)])
    f = np.asarray(_features(params, jnp.asarray(chunk), input_size))
    feats.append(f[:f.shape[0] - pad])
  out = np.concatenate(feats).astype(np.float64)
  chex.assert_shape(out, (n, FEATURE_DIM))
  return out
