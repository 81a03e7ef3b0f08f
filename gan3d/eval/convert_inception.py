r"""Converts the standard FID Inception weights to gan3d's .npz format.

Source weights: `pt_inception-2015-12-05-6726825d.pth` of pytorch-fid
(https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/
pt_inception-2015-12-05-6726825d.pth). That file is a PyTorch port of the
TensorFlow graph `classify_image_graph_def.pb` (inception-2015-12-05) used
by the original TTUR FID code, so features match TF FID up to float error.
Download it yourself on a machine with network access (gan3d never downloads
anything at run time).

Usage:
    python -m gan3d.eval.convert_inception --src pt_inception-2015-12-05-6726825d.pth \
        --out inception_fid.npz

Accepted `--src` formats:
  * `.pth`: loaded with `torch.load` if PyTorch is installed; otherwise with
    a small torch-free reader of PyTorch's zip checkpoint format (`_torch_zip`);
    PyTorch's pre-1.6 legacy (non-zip) format needs PyTorch, or re-save the
    state dict once with a newer PyTorch (`torch.save(sd, 'new.pth')`).
  * `.npz`: the state dict dumped with numpy, e.g. in any PyTorch env:
        sd = torch.load('pt_inception-2015-12-05-6726825d.pth')
        np.savez('pt_inception_sd.npz', **{k: v.numpy() for k, v in sd.items()})

Mapping (torch name -> gan3d name): `<layer>.conv.weight` [O, I, kh, kw] ->
`<layer>/conv/kernel` [kh, kw, I, O]; `<layer>.bn.weight|bias|running_mean|
running_var` -> `<layer>/bn/scale|bias|mean|var`; `num_batches_tracked` and
the classifier `fc.*` are dropped. `<layer>` keeps torch's dotted module path
with '/' (e.g. `Mixed_5b.branch1x1` -> `Mixed_5b/branch1x1`).
"""

from __future__ import annotations

import argparse
import pickle
import zipfile
from typing import Dict

import numpy as np

_BN = {'weight': 'scale', 'bias': 'bias', 'running_mean': 'mean', 'running_var': 'var'}


def torch_to_flax(state_dict: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
  """Renames/transposes a pytorch-fid state dict (numpy arrays) to gan3d names."""
  out = {}
  for name, value in state_dict.items():
    value = np.asarray(value)
    parts = name.split('.')
    if parts[0] == 'fc' or parts[-1] == 'num_batches_tracked' or parts[0] == 'AuxLogits':
      continue
    layer = '/'.join(parts[:-2])
    kind, leaf = parts[-2], parts[-1]
    if kind == 'conv' and leaf == 'weight':
      out[f'{layer}/conv/kernel'] = np.transpose(value, (2, 3, 1, 0)).astype(np.float32)
    elif kind == 'bn' and leaf in _BN:
      out[f'{layer}/bn/{_BN[leaf]}'] = value.astype(np.float32)
    else:
      raise ValueError(f'unexpected parameter {name!r} in the Inception state dict')
  return out


def flax_to_torch(flat: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
  """Inverse of `torch_to_flax` (used by tests to fabricate a state dict)."""
  inv = {v: k for k, v in _BN.items()}
  out = {}
  for name, value in flat.items():
    parts = name.split('/')
    layer = '.'.join(parts[:-2])
    if parts[-2] == 'conv':
      out[f'{layer}.conv.weight'] = np.transpose(np.asarray(value), (3, 2, 0, 1))
    else:
      out[f'{layer}.bn.{inv[parts[-1]]}'] = np.asarray(value)
  return out


def _torch_zip(path: str) -> Dict[str, np.ndarray]:
  """Reads a PyTorch zip checkpoint holding a flat dict of dense tensors, without torch."""
  dtypes = {'FloatStorage': np.float32, 'DoubleStorage': np.float64, 'HalfStorage': np.float16,
            'LongStorage': np.int64, 'IntStorage': np.int32, 'ByteStorage': np.uint8}
  with zipfile.ZipFile(path) as zf:
    names = zf.namelist()
    pkl = [n for n in names if n.endswith('data.pkl')]
    if not pkl:
      raise ValueError(f'{path}: not a PyTorch zip checkpoint (no data.pkl); it may be the '
                       'legacy format, which needs PyTorch (see module docstring)')
    root = pkl[0][:-len('data.pkl')]

    class _Storage:
      def __init__(self, dtype):
        self.dtype = dtype

    def rebuild(storage, offset, size, stride, *unused):
      data, dtype = storage
      flat = np.frombuffer(data, dtype)
      itemsize = flat.itemsize
      return np.lib.stride_tricks.as_strided(
          flat[offset:], shape=tuple(size), strides=tuple(s * itemsize for s in stride)).copy()

    class Unpickler(pickle.Unpickler):
      def find_class(self, module, name):
        if module == 'torch._utils' and name == '_rebuild_tensor_v2':
          return rebuild
        if module == 'torch' and name in dtypes:
          return _Storage(dtypes[name])
        if module == 'collections' and name == 'OrderedDict':
          import collections
          return collections.OrderedDict
        raise pickle.UnpicklingError(f'unsupported object {module}.{name} in {path}')

      def persistent_load(self, pid):
        _, storage_type, key, _, _ = pid
        return (zf.read(f'{root}data/{key}'), storage_type.dtype)

    with zf.open(pkl[0]) as fh:
      sd = Unpickler(fh).load()
  return {k: np.asarray(v) for k, v in sd.items()}


def load_state_dict(path: str) -> Dict[str, np.ndarray]:
  if path.endswith('.npz'):
    with np.load(path) as data:
      return {k: data[k] for k in data.files}
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    return _torch_zip(path)
  sd = torch.load(path, map_location='cpu')
  return {k: v.numpy() for k, v in sd.items()}


def convert(src: str, out: str) -> Dict[str, np.ndarray]:
  """src (.pth or .npz state dict) -> out (.npz in gan3d format), validated."""
  from gan3d.eval import inception
  flat = torch_to_flax(load_state_dict(src))
  np.savez(out, **flat)
  inception.load_params(out)   # raises if names or shapes do not match
  return flat


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--src', required=True, help='pt_inception-*.pth or state-dict .npz')
  parser.add_argument('--out', required=True, help='output .npz')
  args = parser.parse_args(argv)
  flat = convert(args.src, args.out)
  print(f'wrote {args.out}: {len(flat)} arrays, '
        f'{sum(v.size for v in flat.values())} parameters')


if __name__ == '__main__':
  main()
