"""Tests of gan3d.export.mesh_io (OBJ + MTL + PNG, GLB)."""
import json
import struct

import numpy as np
import pytest

from gan3d.export import mesh_io

N = 12


def _grid_faces(n):
  """Local copy of the disc triangulation (no dependency on gan3d.render)."""
  idx = np.arange(n * n).reshape(n, n)
  a, b, c, d = idx[:-1, :-1], idx[1:, :-1], idx[:-1, 1:], idx[1:, 1:]
  faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3),
                          np.stack([c, b, d], -1).reshape(-1, 3)])
  centre = (n - 1) / 2
  r2 = (faces // n - centre) ** 2 + (faces % n - centre) ** 2
  return faces[np.all(r2 <= centre ** 2 + 1e-6, axis=1)].astype(np.int32)


def _mesh(n=N):
  t = np.linspace(-1, 1, n)
  x, y = np.meshgrid(t, -t)
  z = 0.5 * np.sqrt(np.clip(1 - x ** 2 - y ** 2, 0, 1))
  verts = np.stack([x, y, z], -1).reshape(-1, 3).astype(np.float32)
  j, i = np.meshgrid(np.arange(n), np.arange(n))
  uv = np.stack([(j.ravel() + 0.5) / n, (i.ravel() + 0.5) / n], -1).astype(np.float32)
  tex = np.random.default_rng(0).uniform(-1, 1, (2 * n, 2 * n, 3)).astype(np.float32)
  return verts, _grid_faces(n), uv, tex


def test_compact_mesh_keeps_disc_vertices():
  v, f, uv, _ = _mesh()
  cv, cf, cuv = mesh_io.compact_mesh(v, f, uv)
  used = np.unique(f)
  assert len(cv) == len(used) < len(v)
  np.testing.assert_array_equal(cv[cf], v[f])      # same triangles
  np.testing.assert_array_equal(cuv[cf], uv[f])


@pytest.mark.parametrize('with_normals', [True, False])
def test_obj_roundtrip(tmp_path, with_normals):
  v, f, uv, tex = _mesh()
  paths = mesh_io.write_obj(str(tmp_path / 'sample.obj'), v, f, uv, tex, with_normals)
  back = mesh_io.read_obj(paths['obj'])
  cv, cf, cuv = mesh_io.compact_mesh(v, f, uv)
  np.testing.assert_allclose(back['vertices'], cv, atol=1e-6)
  np.testing.assert_array_equal(back['faces'], cf)
  np.testing.assert_allclose(back['uv'], cuv, atol=1e-6)
  assert ('normals' in back) == with_normals
  png = np.asarray(__import__('PIL.Image', fromlist=['Image']).open(back['texture_file']))
  np.testing.assert_array_equal(png, mesh_io.texture_to_uint8(tex))


def test_glb_roundtrip_and_structure(tmp_path):
  v, f, uv, tex = _mesh()
  path = mesh_io.write_glb(str(tmp_path / 'sample.glb'), v, f, uv, tex)
  data = open(path, 'rb').read()
  assert data[:4] == b'glTF' and struct.unpack_from('<I', data, 8)[0] == len(data)
  back = mesh_io.read_glb(path)
  cv, cf, cuv = mesh_io.compact_mesh(v, f, uv)
  np.testing.assert_array_equal(back['vertices'], cv)
  np.testing.assert_array_equal(back['faces'], cf)
  np.testing.assert_array_equal(back['uv'], cuv)
  np.testing.assert_array_equal(back['texture'], mesh_io.texture_to_uint8(tex))
  np.testing.assert_allclose(np.linalg.norm(back['normals'], axis=1), 1.0, atol=1e-5)
  g = back['json']
  assert g['asset']['version'] == '2.0'
  assert all(bv['byteOffset'] % 4 == 0 for bv in g['bufferViews'])
  pos = g['accessors'][0]
  np.testing.assert_allclose(pos['min'], cv.min(0)) and np.testing.assert_allclose(pos['max'], cv.max(0))
  # The JSON chunk is padded with spaces to 4 bytes and parses.
  jlen = struct.unpack_from('<I', data, 12)[0]
  assert jlen % 4 == 0 and json.loads(data[20:20 + jlen])


def test_trimesh_loads_exports(tmp_path):
  trimesh = pytest.importorskip('trimesh', reason='trimesh not installed in this env')
  v, f, uv, tex = _mesh()
  cv, cf, cuv = mesh_io.compact_mesh(v, f, uv)
  mesh_io.write_obj(str(tmp_path / 'a.obj'), v, f, uv, tex)
  mesh_io.write_glb(str(tmp_path / 'a.glb'), v, f, uv, tex)
  obj = trimesh.load(str(tmp_path / 'a.obj'), force='mesh', process=False)
  glb = trimesh.load(str(tmp_path / 'a.glb'), force='mesh', process=False)
  for m in (obj, glb):
    assert m.vertices.shape == cv.shape and m.faces.shape == cf.shape
    assert m.visual.uv.shape == cuv.shape
    np.testing.assert_allclose(np.asarray(m.vertices), cv, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(m.faces), cf)
  # trimesh stores OBJ and glTF UVs with v up; both map back to our v-down UVs.
  np.testing.assert_allclose(obj.visual.uv[:, 1], 1 - cuv[:, 1], atol=1e-5)
  np.testing.assert_allclose(glb.visual.uv[:, 1], 1 - cuv[:, 1], atol=1e-5)
  assert np.asarray(glb.visual.material.baseColorTexture).shape[:2] == tex.shape[:2]


def test_bad_mesh_inputs():
  v, f, uv, tex = _mesh()
  with pytest.raises(ValueError, match='faces index'):
    mesh_io.compact_mesh(v, f + len(v), uv)
  with pytest.raises(ValueError, match='uv must be'):
    mesh_io.compact_mesh(v, f, uv[:-1])
  with pytest.raises(ValueError, match='NaN'):
    mesh_io.glb_bytes(np.full_like(v, np.nan), f, uv, tex)
