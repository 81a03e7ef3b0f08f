"""Mesh topology of the shape image (paper section 6).

The shape image s [N, N, 3] holds one vertex per pixel, row-major: vertex
index i * N + j for row i (top to bottom), column j (left to right). Triangles
are the regular triangulation of the grid, two per cell, keeping only those
whose three vertices lie in the central disc of radius (N - 1) / 2 around the
grid centre. Faces are counter-clockwise when the grid is laid out with rows
going down (-y) and columns going right (+x) and seen from +z, i.e. they face
the camera for the base surfaces of gan3d.representation.
"""
from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np

from gan3d.render import indexing
from gan3d.render import safe_math


def grid_inside_disc(n: int) -> np.ndarray:
  """[N, N] bool: the vertices within the central disc of radius (N - 1) / 2
  around the grid centre, the ones `grid_faces` keeps triangles of."""
  n = int(n)
  centre = (n - 1) / 2.0
  i = np.arange(n)
  r2 = (i[:, None] - centre) ** 2 + (i[None, :] - centre) ** 2
  return r2 <= centre ** 2 + 1e-6


@functools.lru_cache(maxsize=None)
def _grid_faces(n: int) -> np.ndarray:
  if n < 2:
    raise ValueError(f'grid_faces: n={n} must be >= 2')
  idx = np.arange(n * n, dtype=np.int32).reshape(n, n)
  a, b = idx[:-1, :-1], idx[1:, :-1]     # (i, j), (i + 1, j)
  c, d = idx[:-1, 1:], idx[1:, 1:]       # (i, j + 1), (i + 1, j + 1)
  faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3),
                          np.stack([c, b, d], -1).reshape(-1, 3)], 0)
  keep = np.all(grid_inside_disc(n).reshape(-1)[faces], axis=1)
  out = faces[keep]
  out.setflags(write=False)
  return out


def grid_faces(n: int) -> np.ndarray:
  """Faces [F, 3] int32 of the N x N grid inside the central disc."""
  return _grid_faces(int(n))


@functools.lru_cache(maxsize=None)
def _face_adjacency(n: int) -> np.ndarray:
  faces = _grid_faces(n)
  first = {}
  pairs = []
  for f, tri in enumerate(faces.tolist()):
    for k in range(3):
      edge = (min(tri[k], tri[(k + 1) % 3]), max(tri[k], tri[(k + 1) % 3]))
      if edge in first:
        pairs.append((first.pop(edge), f))
      else:
        first[edge] = f
  out = np.asarray(pairs, np.int32).reshape(-1, 2)
  out.setflags(write=False)
  return out


def face_adjacency(n: int) -> np.ndarray:
  """Pairs [E, 2] int32 of `grid_faces(n)` indices that share an edge (each
  interior edge once; boundary edges have no pair)."""
  return _face_adjacency(int(n))


def grid_uv(n: int) -> np.ndarray:
  """Per-vertex UVs [N*N, 2] (u right, v down) in [0, 1] for the 2N x 2N texture.

  Vertex (i, j) sits at texture coordinate ((j + 0.5) / N, (i + 0.5) / N):
  between texels 2j and 2j + 1 of the 2N-wide texture.
  """
  n = int(n)
  j, i = np.meshgrid(np.arange(n), np.arange(n))
  return np.stack([(j.ravel() + 0.5) / n, (i.ravel() + 0.5) / n],
                  -1).astype(np.float32)


def grid_disc(n: int, radius: float = 1.0) -> np.ndarray:
  """The flat disc [N, N, 3]: vertex (i, j) at x = r u, y = -r v, z = 0.

  u, v in [-1, 1] across the grid (columns to +x, rows to -y).
  """
  t = np.linspace(-1.0, 1.0, int(n), dtype=np.float32)
  x, y = np.meshgrid(t, -t)
  return np.stack([radius * x, radius * y, np.zeros_like(x)], -1)


def shape_image_to_vertices(s):
  """Shape image [N, N, 3] -> vertices [N*N, 3] (row-major)."""
  chex.assert_rank(s, 3)
  chex.assert_axis_dimension(s, 2, 3)
  return s.reshape(-1, 3)


def vertex_normals(vertices, faces):
  """Area-weighted unit vertex normals [V, 3] of a mesh (vertices [V, 3]).

  Counter-clockwise faces (seen from where the normal points) give outward
  normals. Vertices used by no face (or only degenerate ones) get 0.
  """
  v0, v1, v2 = (indexing.take(vertices, faces[:, k]) for k in range(3))
  face_n = jnp.cross(v1 - v0, v2 - v0)          # length = 2 * area
  face_n = safe_math.finite_or(face_n, 0.0)
  acc = sum(indexing.scatter_add(vertices.shape[0], faces[:, k], face_n)
            for k in range(3))
  return safe_math.safe_normalize(acc)
