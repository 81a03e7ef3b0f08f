"""Textured mesh export: Wavefront OBJ (+ MTL + PNG) and binary glTF 2.0 (GLB).

Meshes are written in the paper's object space (x right, y up, z towards the
camera; see docs/interfaces.md), with only the given faces (the circular
region of the shape-image grid). Vertices not referenced by any face are
dropped and the faces re-indexed (`compact_mesh`), so an N x N shape image
exports exactly the vertices of its disc.

UV convention of gan3d: u right, v down in [0, 1] (row 0 of the texture is
v = 0). glTF uses the same convention; OBJ has v up, so OBJ files store
1 - v.

GLB layout (written by hand with numpy + struct): one buffer holding
POSITION (float32 VEC3, with min/max), optional NORMAL (float32 VEC3),
TEXCOORD_0 (float32 VEC2), indices (uint32 SCALAR) and the PNG texture
(image/png bufferView); one material with baseColorTexture, metallic 0,
roughness 1, doubleSided, and KHR_materials_unlit so viewers show the
texture colours as generated.
"""

from __future__ import annotations

import io
import json
import os
import struct
from typing import Dict, Optional, Tuple

import numpy as np
from PIL import Image


def texture_to_uint8(texture) -> np.ndarray:
  """[H, W, 3] float in [-1, 1] (or uint8) -> uint8 [H, W, 3]."""
  t = np.asarray(texture)
  if t.ndim != 3 or t.shape[-1] not in (3, 4):
    raise ValueError(f'texture must be [H, W, 3], got {t.shape}')
  if t.dtype == np.uint8:
    return t[..., :3]
  if not np.all(np.isfinite(t)):
    raise ValueError('texture contains NaN or inf')
  return np.round((np.clip(t[..., :3], -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def png_bytes(image_uint8: np.ndarray) -> bytes:
  buf = io.BytesIO()
  Image.fromarray(image_uint8).save(buf, format='PNG')
  return buf.getvalue()


def _check_mesh(vertices, faces, uv):
  v = np.asarray(vertices, np.float32)
  f = np.asarray(faces)
  t = np.asarray(uv, np.float32)
  if v.ndim != 2 or v.shape[1] != 3:
    raise ValueError(f'vertices must be [V, 3], got {v.shape}')
  if f.ndim != 2 or f.shape[1] != 3 or f.shape[0] == 0:
    raise ValueError(f'faces must be non-empty [F, 3], got {f.shape}')
  if t.shape != (v.shape[0], 2):
    raise ValueError(f'uv must be [V, 2] = {(v.shape[0], 2)}, got {t.shape}')
  if f.min() < 0 or f.max() >= v.shape[0]:
    raise ValueError(f'faces index outside [0, {v.shape[0]})')
  if not (np.all(np.isfinite(v)) and np.all(np.isfinite(t))):
    raise ValueError('vertices or uv contain NaN or inf')
  return v, f.astype(np.int64), t


def compact_mesh(vertices, faces, uv) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Drops unreferenced vertices. Returns (vertices [V', 3], faces [F, 3] uint32, uv [V', 2])."""
  v, f, t = _check_mesh(vertices, faces, uv)
  used = np.unique(f)
  remap = np.full(v.shape[0], -1, np.int64)
  remap[used] = np.arange(len(used))
  return v[used], remap[f].astype(np.uint32), t[used]


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
  """Area-weighted unit vertex normals [V, 3] (orientation follows the winding)."""
  v = np.asarray(vertices, np.float64)
  f = np.asarray(faces, np.int64)
  fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
  n = np.zeros_like(v)
  for k in range(3):
    np.add.at(n, f[:, k], fn)
  norm = np.linalg.norm(n, axis=1, keepdims=True)
  return np.where(norm > 1e-12, n / np.maximum(norm, 1e-12), [0.0, 0.0, 1.0]).astype(np.float32)


# ----------------------------------------------------------------------------
# OBJ


def write_obj(path: str, vertices, faces, uv, texture, with_normals: bool = True
              ) -> Dict[str, str]:
  """Writes `path` (.obj), its .mtl and the texture .png next to it.

  Args:
    path: output .obj path; `<stem>.mtl` and `<stem>.png` are written beside it.
    vertices: [V, 3] object space; faces: [F, 3] int; uv: [V, 2] (u right, v down);
    texture: [Ht, Wt, 3] float in [-1, 1] or uint8.
    with_normals: also write per-vertex normals (vn).
  Returns:
    {'obj': path, 'mtl': ..., 'png': ...}.
  """
  v, f, t = compact_mesh(vertices, faces, uv)
  tex = texture_to_uint8(texture)
  stem = os.path.splitext(path)[0]
  base = os.path.basename(stem)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  Image.fromarray(tex).save(stem + '.png')
  with open(stem + '.mtl', 'w') as fh:
    fh.write(f'newmtl {base}\nKa 1 1 1\nKd 1 1 1\nKs 0 0 0\nillum 1\nmap_Kd {base}.png\n')
  lines = [f'# gan3d mesh: {len(v)} vertices, {len(f)} faces\n', f'mtllib {base}.mtl\n',
           f'usemtl {base}\n']
  lines += [f'v {a:.6f} {b:.6f} {c:.6f}\n' for a, b, c in v]
  lines += [f'vt {a:.6f} {1.0 - b:.6f}\n' for a, b in t]
  if with_normals:
    lines += [f'vn {a:.6f} {b:.6f} {c:.6f}\n' for a, b, c in vertex_normals(v, f)]
    lines += [f'f {a}/{a}/{a} {b}/{b}/{b} {c}/{c}/{c}\n' for a, b, c in f.astype(np.int64) + 1]
  else:
    lines += [f'f {a}/{a} {b}/{b} {c}/{c}\n' for a, b, c in f.astype(np.int64) + 1]
  with open(path, 'w') as fh:
    fh.writelines(lines)
  return {'obj': path, 'mtl': stem + '.mtl', 'png': stem + '.png'}


def read_obj(path: str) -> Dict[str, np.ndarray]:
  """Minimal reader for files written by `write_obj` (v, vt, vn, f a/b[/c]).

  Returns {'vertices', 'uv' (v down again), 'normals' (or absent), 'faces', 'texture_file'}.
  """
  v, vt, vn, f, mtl = [], [], [], [], None
  with open(path) as fh:
    for line in fh:
      parts = line.split()
      if not parts:
        continue
      if parts[0] == 'v':
        v.append([float(x) for x in parts[1:4]])
      elif parts[0] == 'vt':
        vt.append([float(x) for x in parts[1:3]])
      elif parts[0] == 'vn':
        vn.append([float(x) for x in parts[1:4]])
      elif parts[0] == 'f':
        f.append([int(p.split('/')[0]) - 1 for p in parts[1:4]])
      elif parts[0] == 'mtllib':
        mtl = parts[1]
  out = {'vertices': np.array(v, np.float32), 'faces': np.array(f, np.int64)}
  uv = np.array(vt, np.float32).reshape(-1, 2)
  out['uv'] = np.stack([uv[:, 0], 1.0 - uv[:, 1]], -1)
  if vn:
    out['normals'] = np.array(vn, np.float32)
  if mtl:
    with open(os.path.join(os.path.dirname(path), mtl)) as fh:
      for line in fh:
        if line.startswith('map_Kd'):
          out['texture_file'] = os.path.join(os.path.dirname(path), line.split()[1])
  return out


# ----------------------------------------------------------------------------
# GLB

_GLB_MAGIC = 0x46546C67   # 'glTF'
_CHUNK_JSON = 0x4E4F534A  # 'JSON'
_CHUNK_BIN = 0x004E4942   # 'BIN\0'
_FLOAT, _UINT32 = 5126, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963


def _pad4(b: bytes, fill: bytes = b'\x00') -> bytes:
  return b + fill * ((-len(b)) % 4)


def glb_bytes(vertices, faces, uv, texture, with_normals: bool = True) -> bytes:
  """Binary glTF 2.0 of a textured triangle mesh (see module docstring)."""
  v, f, t = compact_mesh(vertices, faces, uv)
  png = png_bytes(texture_to_uint8(texture))
  blobs = [('POSITION', v.astype('<f4').tobytes(), _ARRAY_BUFFER),
           ]
  if with_normals:
    blobs.append(('NORMAL', vertex_normals(v, f).astype('<f4').tobytes(), _ARRAY_BUFFER))
  blobs.append(('TEXCOORD_0', t.astype('<f4').tobytes(), _ARRAY_BUFFER))
  blobs.append(('indices', f.astype('<u4').tobytes(), _ELEMENT_ARRAY_BUFFER))
  blobs.append(('image', png, None))
  binary, views = b'', []
  for name, data, target in blobs:
    view = {'buffer': 0, 'byteOffset': len(binary), 'byteLength': len(data)}
    if target is not None:
      view['target'] = target
    views.append(view)
    binary += _pad4(data)
  nv = int(v.shape[0])
  accessors = [{'bufferView': 0, 'componentType': _FLOAT, 'count': nv, 'type': 'VEC3',
                'min': v.min(0).tolist(), 'max': v.max(0).tolist()}]
  attributes = {'POSITION': 0}
  if with_normals:
    accessors.append({'bufferView': 1, 'componentType': _FLOAT, 'count': nv, 'type': 'VEC3'})
    attributes['NORMAL'] = 1
  attributes['TEXCOORD_0'] = len(accessors)
  accessors.append({'bufferView': len(accessors), 'componentType': _FLOAT, 'count': nv,
                    'type': 'VEC2'})
  idx_acc = len(accessors)
  accessors.append({'bufferView': len(accessors), 'componentType': _UINT32,
                    'count': int(f.size), 'type': 'SCALAR'})
  gltf = {
      'asset': {'version': '2.0', 'generator': 'gan3d.export.mesh_io'},
      'extensionsUsed': ['KHR_materials_unlit'],
      'scene': 0, 'scenes': [{'nodes': [0]}], 'nodes': [{'mesh': 0, 'name': 'gan3d_object'}],
      'meshes': [{'primitives': [{'attributes': attributes, 'indices': idx_acc,
                                  'material': 0, 'mode': 4}]}],
      'materials': [{'pbrMetallicRoughness': {'baseColorTexture': {'index': 0},
                                              'metallicFactor': 0.0, 'roughnessFactor': 1.0},
                     'doubleSided': True, 'extensions': {'KHR_materials_unlit': {}}}],
      'textures': [{'sampler': 0, 'source': 0}],
      'samplers': [{'magFilter': 9729, 'minFilter': 9729, 'wrapS': 33071, 'wrapT': 33071}],
      'images': [{'bufferView': len(views) - 1, 'mimeType': 'image/png'}],
      'accessors': accessors,
      'bufferViews': views,
      'buffers': [{'byteLength': len(binary)}],
  }
  js = _pad4(json.dumps(gltf, separators=(',', ':')).encode('utf-8'), b' ')
  total = 12 + 8 + len(js) + 8 + len(binary)
  return (struct.pack('<III', _GLB_MAGIC, 2, total)
          + struct.pack('<II', len(js), _CHUNK_JSON) + js
          + struct.pack('<II', len(binary), _CHUNK_BIN) + binary)


def write_glb(path: str, vertices, faces, uv, texture, with_normals: bool = True) -> str:
  """Writes a .glb file (see `glb_bytes`). Returns the path."""
  data = glb_bytes(vertices, faces, uv, texture, with_normals)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, 'wb') as fh:
    fh.write(data)
  return path


def read_glb(data_or_path) -> Dict[str, object]:
  """Minimal GLB reader for files written by `glb_bytes`.

  Returns {'json', 'vertices', 'normals' (if present), 'uv', 'faces', 'texture' uint8}.
  """
  data = data_or_path
  if isinstance(data_or_path, str):
    with open(data_or_path, 'rb') as fh:
      data = fh.read()
  magic, version, total = struct.unpack_from('<III', data, 0)
  if magic != _GLB_MAGIC or version != 2 or total != len(data):
    raise ValueError('not a GLB 2.0 file (bad header)')
  jlen, jtype = struct.unpack_from('<II', data, 12)
  if jtype != _CHUNK_JSON:
    raise ValueError('first GLB chunk is not JSON')
  gltf = json.loads(data[20:20 + jlen].decode('utf-8'))
  boff = 20 + jlen
  blen, btype = struct.unpack_from('<II', data, boff)
  if btype != _CHUNK_BIN:
    raise ValueError('second GLB chunk is not BIN')
  binary = data[boff + 8:boff + 8 + blen]

  def view_bytes(i):
    bv = gltf['bufferViews'][i]
    return binary[bv['byteOffset']:bv['byteOffset'] + bv['byteLength']]

  def accessor(i):
    acc = gltf['accessors'][i]
    dtype = {_FLOAT: '<f4', _UINT32: '<u4'}[acc['componentType']]
    width = {'SCALAR': 1, 'VEC2': 2, 'VEC3': 3}[acc['type']]
    arr = np.frombuffer(view_bytes(acc['bufferView']), dtype)
    return arr.reshape(acc['count'], width) if width > 1 else arr

  prim = gltf['meshes'][0]['primitives'][0]
  out = {'json': gltf, 'vertices': accessor(prim['attributes']['POSITION']),
         'uv': accessor(prim['attributes']['TEXCOORD_0']),
         'faces': accessor(prim['indices']).reshape(-1, 3)}
  if 'NORMAL' in prim['attributes']:
    out['normals'] = accessor(prim['attributes']['NORMAL'])
  img = gltf['images'][0]
  out['texture'] = np.asarray(Image.open(io.BytesIO(view_bytes(img['bufferView']))))
  return out
