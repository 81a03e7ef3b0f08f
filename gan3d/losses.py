"""GAN objectives and generator bookkeeping as pure functions (paper eq 5).

* ``d_logistic_loss`` / ``g_nonsaturating_loss``: eq 5 in its usual
  non-saturating logistic form (StyleGAN).
* ``r1_penalty``: ``E ||grad_x D(x)||^2`` on reals. The caller multiplies by
  ``gamma / 2`` and, with lazy regularisation, by the interval.
* ``path_length_penalty``: StyleGAN2's path-length regulariser on the styles
  ``ws``; its gradient w.r.t. the generator parameters differentiates a
  vector-Jacobian product, i.e. second derivatives through the renderer.
* ``ema_beta`` / ``ema_update``: EMA of the generator weights by images seen
  (StyleGAN2-ADA's ``ema_kimg`` rule with ramp-up).
* ``update_w_avg``: the running mean of the mapping outputs (truncation).
* ``mesh_lean`` / ``lean_penalty``: how far the generated surfaces lean up
  or down in the object frame (not in the paper; ``train.lean_weight``).
* ``normal_consistency``: how much the surface bends between neighbouring
  triangles, a smoothness prior against folds (not in the paper;
  ``train.smooth_weight``).
* ``crease_penalty``: how much that bending changes from one grid cell to
  the next, a prior against folds that leaves smooth curvature free (not in
  the paper; ``train.crease_weight``).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional

import chex
import jax
import jax.numpy as jnp
import numpy as np

from gan3d.render import safe_math
from gan3d.render import topology

PyTree = Any


def d_logistic_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """Discriminator loss: ``mean softplus(D(fake)) + mean softplus(-D(real))``.

  ``real_logits [B], fake_logits [B'] -> []`` (minimised by D; eq 5).
  """
  chex.assert_rank([real_logits, fake_logits], 1)
  return jnp.mean(jax.nn.softplus(fake_logits)) + jnp.mean(jax.nn.softplus(-real_logits))


def g_nonsaturating_loss(fake_logits: jax.Array) -> jax.Array:
  """Non-saturating generator loss ``mean softplus(-D(G(z)))``: ``[B] -> []``."""
  chex.assert_rank(fake_logits, 1)
  return jnp.mean(jax.nn.softplus(-fake_logits))


def r1_penalty(logits_fn: Callable[[jax.Array], jax.Array],
               real_images: jax.Array) -> jax.Array:
  """R1: ``mean_b ||d D(x_b) / d x_b||^2`` over real images ``[B, H, W, C]``.

  ``logits_fn`` maps images ``[B, H, W, C]`` to logits ``[B]`` (close over the
  discriminator params, differentiate the result w.r.t. them). Samples are
  independent in D except through the minibatch-stddev layer, so the gradient
  of ``sum(logits)`` is used, as in StyleGAN2. Returns ``[]``; the loss term is
  ``r1_gamma / 2 * r1_penalty * r1_interval`` (lazy regularisation).
  """
  chex.assert_rank(real_images, 4)
  grads = jax.grad(lambda x: jnp.sum(logits_fn(x)))(real_images)
  return jnp.mean(jnp.sum(jnp.square(grads), axis=(1, 2, 3)))


def path_length_penalty(images_fn: Callable[[PyTree], jax.Array], ws: PyTree,
                        rng: jax.Array, pl_mean: jax.Array, decay: float
                        ) -> tuple[jax.Array, jax.Array, jax.Array]:
  """StyleGAN2 path-length regulariser.

  Args:
    images_fn: ``ws -> images [B, H, W, C]`` (e.g. ``generate_from_ws`` with
      fixed rngs, closing over the generator params).
    ws: styles, an array ``[B, L, D]`` or a dict of them (both generators).
    rng: key for the random image-space direction.
    pl_mean: ``[]`` running mean of the path lengths.
    decay: running-mean update rate (0.01).

  Returns:
    ``(penalty [], new_pl_mean [], lengths [B])`` with
    ``lengths_b = sqrt(sum_generators mean_layers sum_d J^T y)^2)`` for
    ``y ~ N(0, 1) / sqrt(H W)``, and ``penalty = mean (lengths - new_pl_mean)^2``.
    The loss term is ``pl_weight * penalty * pl_interval``.
  """
  images, vjp_fn = jax.vjp(images_fn, ws)
  chex.assert_rank(images, 4)
  b, h, w = images.shape[:3]
  y = jax.random.normal(rng, images.shape, images.dtype) / jnp.sqrt(float(h * w))
  (grads,) = vjp_fn(y)
  sq = [jnp.mean(jnp.sum(jnp.square(g), axis=-1), axis=-1)
        for g in jax.tree_util.tree_leaves(grads)]            # each [B]
  lengths = jnp.sqrt(sum(sq) + 1e-12)
  chex.assert_shape(lengths, (b,))
  new_mean = pl_mean + decay * (jnp.mean(jax.lax.stop_gradient(lengths)) - pl_mean)
  new_mean = jax.lax.stop_gradient(new_mean)
  penalty = jnp.mean(jnp.square(lengths - new_mean))
  return penalty, new_mean, lengths


def face_cross_products(vertices: jax.Array, faces: jax.Array) -> jax.Array:
  """``vertices [B, V, 3]``, ``faces [F, 3]`` -> ``(v1 - v0) x (v2 - v0)``
  of each face, ``[B, F, 3]``: the normal by the winding, of length twice
  the face's area."""
  chex.assert_rank(vertices, 3)
  chex.assert_rank(faces, 2)
  v0, v1, v2 = (vertices[:, faces[:, k]] for k in range(3))
  return jnp.cross(v1 - v0, v2 - v0)


def unit_face_normals(vertices: jax.Array, faces: jax.Array) -> jax.Array:
  """``vertices [B, V, 3]``, ``faces [F, 3]`` -> unit face normals
  ``[B, F, 3]`` (by the winding); zero-area faces get normal 0 with finite
  gradients (`safe_math.safe_normalize`)."""
  return safe_math.safe_normalize(face_cross_products(vertices, faces))


def adjacent_normal_cosines(vertices: jax.Array, faces: jax.Array,
                            pairs: jax.Array) -> jax.Array:
  """``n_a . n_b`` of the unit normals (`unit_face_normals`) of each pair of
  adjacent triangles: ``vertices [B, V, 3]``, ``faces [F, 3]``, ``pairs
  [E, 2]`` (`topology.face_adjacency`) -> ``[B, E]``; 0 where a face has
  zero area."""
  chex.assert_rank(pairs, 2)
  n = unit_face_normals(vertices, faces)
  return jnp.sum(n[:, pairs[:, 0]] * n[:, pairs[:, 1]], -1)


def _front_sign(unit_normals: jax.Array) -> jax.Array:
  """``[B, F, 3]`` unit face normals -> ``[B]`` +1 or -1: the sign that
  turns each mesh's normals to the +z side (the front) as a whole, the
  orientation `mesh_lean` and `front_lean` share."""
  return jnp.where(jnp.sum(unit_normals[..., 2], -1) < 0, -1.0, 1.0)


def mesh_lean(vertices: jax.Array, faces: jax.Array) -> jax.Array:
  """Lean of each mesh: the mean over its faces of the unit face normal's y
  (object frame, +y up), with the normals turned to the +z side (the front
  that the viewpoint prior is centred on) as a whole.

  ``vertices [B, V, 3]``, ``faces [F, 3]`` -> ``[B]``. 0 for a surface
  symmetric under y -> -y (a sphere cap, an upright face); a surface sheared
  by ``z += t y`` leans by about ``-t / sqrt(1 + t^2)`` (down for t > 0).
  Zero-area faces count as normal 0 (`safe_math.safe_normalize`).
  """
  n = unit_face_normals(vertices, faces)
  return _front_sign(n) * jnp.mean(n[..., 1], -1)


def front_lean(vertices: jax.Array, faces: jax.Array) -> jax.Array:
  """Lean of each mesh as the canonical view sees it: the mean of the unit
  face normal's y (object frame, +y up) over the faces turned to the front
  (+z, the centre of the viewpoint prior), each weighted by its area
  projected on the image plane, ``max(c_z, 0)`` with ``c`` the face's
  `face_cross_products` (twice its area vector). So it is about the mean
  normal's y over the pixels of a frontal render (orthographic, without
  occlusion), and unlike `mesh_lean` a rim or skirt seen edge-on hardly
  counts.

  ``vertices [B, V, 3]``, ``faces [F, 3]`` -> ``[B]``. 0 for a surface
  symmetric under y -> -y; the orientation flip is `mesh_lean`'s
  (`_front_sign`: the normals face +z on the whole). Finite with
  finite gradients when every face is degenerate (then 0).
  """
  c = face_cross_products(vertices, faces)                        # [B, F, 3]
  n = safe_math.safe_normalize(c)
  front = _front_sign(n)                                           # [B]
  w = jnp.maximum(front[:, None] * c[..., 2], 0.0)                 # [B, F]
  total = jnp.sum(w, -1)
  mean_y = jnp.sum(w * front[:, None] * n[..., 1], -1) / jnp.maximum(total, 1e-12)
  return jnp.where(total > 0, mean_y, 0.0)


LEAN_MEASURES = ('mesh', 'front')


def lean_of(measure: str, vertices: jax.Array, faces: jax.Array) -> jax.Array:
  """`mesh_lean` (``measure='mesh'``) or `front_lean` (``'front'``), ``[B]``
  (``train.lean_measure``)."""
  if measure == 'mesh':
    return mesh_lean(vertices, faces)
  if measure == 'front':
    return front_lean(vertices, faces)
  raise ValueError(f'lean measure {measure!r}: expected one of {LEAN_MEASURES}')


def lean_penalty(vertices: jax.Array, faces: jax.Array,
                 measure: str = 'mesh') -> jax.Array:
  """``mean_b(lean)^2`` of `lean_of` (``measure``): zero when the batch's
  surfaces face the front on average (not each one), ``[]``. The generator
  loss adds it times ``train.lean_weight`` (docs/synthetic_study.md "The lit
  generator turns its surface away from the light": with shading, the
  shapes lean away from the light; "The failing seeds lean down": without
  it, the front of the unlit generator's faces turns down by up to a few
  degrees)."""
  return jnp.square(jnp.mean(lean_of(measure, vertices, faces)))


def normal_consistency(vertices: jax.Array, faces: jax.Array,
                       pairs: jax.Array) -> jax.Array:
  """Mean over adjacent triangle pairs of ``1 - n_a . n_b`` (unit face
  normals), per mesh: 0 for a plane, about ``h^2 / (2 R^2)`` for a sphere of
  radius R meshed at spacing h, 1 for a right-angle fold, 2 for a face folded
  back onto its neighbour. Scale-free, so a smooth dome costs little and a
  crease a lot.

  ``vertices [B, V, 3]``, ``faces [F, 3]``, ``pairs [E, 2]`` (indices into
  ``faces`` of triangles sharing an edge, `topology.face_adjacency`) ->
  ``[B]``. Zero-area faces have normal 0 and so count 1 against any
  neighbour (`safe_math.safe_normalize`: finite value and gradient).
  """
  return jnp.mean(1.0 - adjacent_normal_cosines(vertices, faces, pairs), -1)


@functools.lru_cache(maxsize=None)
def _crease_triples(n: int):
  """Quad-index triples (a, b, c) [T, 3] of three consecutive cells of the
  N x N grid along a row or a column, all three inside the central disc of
  `topology.grid_faces` (every corner in `topology.grid_inside_disc`)."""
  inside_v = topology.grid_inside_disc(n)
  inside = (inside_v[:-1, :-1] & inside_v[1:, :-1] & inside_v[:-1, 1:]
            & inside_v[1:, 1:])                                 # [N-1, N-1]
  q = np.arange((n - 1) ** 2).reshape(n - 1, n - 1)
  along_rows = np.stack([q[:, :-2], q[:, 1:-1], q[:, 2:]], -1)[
      inside[:, :-2] & inside[:, 1:-1] & inside[:, 2:]]
  along_cols = np.stack([q[:-2], q[1:-1], q[2:]], -1)[
      inside[:-2] & inside[1:-1] & inside[2:]]
  out = np.concatenate([along_rows, along_cols], 0).astype(np.int32)
  out.setflags(write=False)
  return out


def crease_penalty(shape_image: jax.Array) -> jax.Array:
  """Mean over triples of consecutive grid cells (a, b, c) along rows and
  columns of ``|n_a - 2 n_b + n_c|^2`` (unit cell normals from the cell's
  diagonals), per mesh: the change of bending, not the bending. About
  ``(h / R)^4`` per triple for a sphere of radius R at grid spacing h (the
  bend prior, `normal_consistency`, charges ``(h / R)^2 / 2`` per triangle
  pair), 0 for a plane; a crease of angle phi along a grid line adds about
  ``2 phi^2`` per cell of its length (two triples straddle it). So it
  penalises creases without pulling a smooth dome flatter (not in the
  paper; ``train.crease_weight``; as a mean over about 2/3 as many triples
  as `normal_consistency` has pairs, weight W charges a crease about as
  much as weight 6 W of the bend prior).

  ``shape_image [B, N, N, 3]`` (cells inside the central disc of
  `topology.grid_faces` only) -> ``[B]``. Degenerate cells have normal 0
  (`safe_math.safe_normalize`: finite value and gradient).
  """
  chex.assert_rank(shape_image, 4)
  b, n = shape_image.shape[:2]
  chex.assert_shape(shape_image, (b, n, n, 3))
  s = shape_image
  d1 = s[:, 1:, 1:] - s[:, :-1, :-1]         # (i, j) -> (i + 1, j + 1)
  d2 = s[:, :-1, 1:] - s[:, 1:, :-1]         # (i + 1, j) -> (i, j + 1)
  cell_n = safe_math.safe_normalize(jnp.cross(d1, d2)).reshape(b, -1, 3)
  t = jnp.asarray(_crease_triples(int(n)))
  second = cell_n[:, t[:, 0]] - 2.0 * cell_n[:, t[:, 1]] + cell_n[:, t[:, 2]]
  return jnp.mean(jnp.sum(jnp.square(second), -1), -1)


def ema_beta(batch_size: int, cur_nimg, ema_kimg: float,
             ema_rampup: Optional[float] = None) -> jax.Array:
  """Per-step EMA decay ``0.5 ** (batch / ema_nimg)`` (StyleGAN2-ADA).

  ``ema_nimg = ema_kimg * 1000``, limited to ``cur_nimg * ema_rampup`` early
  in training when ``ema_rampup`` is set (None or 0: no ramp-up). The weights'
  half-life is then ``ema_kimg`` thousand images.
  """
  ema_nimg = jnp.asarray(ema_kimg * 1000.0, jnp.float32)
  if ema_rampup:
    ema_nimg = jnp.minimum(ema_nimg, jnp.asarray(cur_nimg, jnp.float32) * ema_rampup)
  return jnp.power(0.5, batch_size / jnp.maximum(ema_nimg, 1e-8))


def ema_update(ema_params: PyTree, params: PyTree, beta) -> PyTree:
  """``ema <- params + (ema - params) * beta`` leaf-wise (``beta`` from ``ema_beta``)."""
  return jax.tree_util.tree_map(
      lambda e, p: (p + (e - p) * beta).astype(e.dtype), ema_params, params)


def update_w_avg(w_avg: PyTree, w: PyTree, beta: float) -> PyTree:
  """Running mean of the mapping outputs: ``mean_b(w) + (w_avg - mean_b(w)) * beta``.

  ``w_avg`` leaves ``[D]``, ``w`` leaves ``[B, D]`` (``scene['w']`` of
  ``gan3d.models.generate``); ``beta`` is ``config.model.w_avg_beta`` (0.995).
  """
  def one(avg, batch):
    chex.assert_rank(batch, 2)
    m = jnp.mean(jax.lax.stop_gradient(batch), axis=0)
    return (m + (avg - m) * beta).astype(avg.dtype)
  return jax.tree_util.tree_map(one, w_avg, w)
