"""The perspective camera of the paper (section 6) and viewpoint sampling.

Object space: x right, y up, z towards the camera. The camera is on +Z at
distance D (`RenderSettings.camera_distance`), looking at the origin; the field
of view makes the unit ball fit the image tightly: half-angle t with
sin(t) = 1 / D, so the focal length is 1 / tan(t) = sqrt(D^2 - 1) in units of
half the image's smaller side. A viewpoint (yaw, pitch) in radians rotates the
object, R = R_x(pitch) @ R_y(yaw); the camera never moves. Depth is D - z of
the rotated vertex: distance along the viewing axis, larger is farther.
Screen space: pixel (i, j) has its centre at (j + 0.5, i + 0.5), x right,
y down.
"""
from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp

from gan3d.render.settings import RenderSettings
from gan3d.render import safe_math


def rotation_matrix(viewpoint):
  """R_x(pitch) @ R_y(yaw) for viewpoint [..., 2] = (yaw, pitch), radians.

  Returns [..., 3, 3], the standard right-handed rotations. Positive yaw
  turns the object's front (+z) towards +x; positive pitch turns it towards
  -y (the object nods down, the camera sees more of its top).
  """
  yaw, pitch = viewpoint[..., 0], viewpoint[..., 1]
  cy, sy = jnp.cos(yaw), jnp.sin(yaw)
  cp, sp = jnp.cos(pitch), jnp.sin(pitch)
  zero, one = jnp.zeros_like(yaw), jnp.ones_like(yaw)
  r_y = jnp.stack([jnp.stack([cy, zero, sy], -1),
                   jnp.stack([zero, one, zero], -1),
                   jnp.stack([-sy, zero, cy], -1)], -2)
  r_x = jnp.stack([jnp.stack([one, zero, zero], -1),
                   jnp.stack([zero, cp, -sp], -1),
                   jnp.stack([zero, sp, cp], -1)], -2)
  return r_x @ r_y


def tilt_up(direction, angle):
  """Turns directions ``[..., 3]`` about the x axis by ``angle`` (radians), so
  that +z goes to ``(0, sin(angle), cos(angle))``: up (+y) for angle > 0.
  Used for light cones centred above the viewing axis."""
  x, y, z = direction[..., 0], direction[..., 1], direction[..., 2]
  c, s = jnp.cos(angle), jnp.sin(angle)
  return jnp.stack([x, c * y + s * z, c * z - s * y], -1)


def light_cone(u_angle, u_phi, spread, tilt):
  """Unit directions ``[..., 3]`` spread uniformly over the projected disc of
  a cone of half-angle ``spread`` (radians) around +z, its centre turned up
  by ``tilt`` (radians, `tilt_up`): angle ``spread * sqrt(u_angle)`` from
  the centre, azimuth ``2 pi u_phi``, for ``u_angle, u_phi`` uniform in
  [0, 1) of any (equal) shape. The light priors of the synthetic data set
  and of the lit generator both draw from it."""
  a = spread * jnp.sqrt(u_angle)
  phi = 2 * math.pi * u_phi
  direction = jnp.stack([jnp.sin(a) * jnp.cos(phi), jnp.sin(a) * jnp.sin(phi),
                         jnp.cos(a)], -1)
  return tilt_up(direction, tilt)


def sample_viewpoints(rng, batch, yaw_range_deg=(-45.0, 45.0),
                      pitch_range_deg=(-15.0, 15.0)):
  """Uniform viewpoints [batch, 2] (yaw, pitch) in radians from degree ranges.

  The paper's prior is yaw in +-45 and pitch in +-15 degrees.
  """
  for name, (lo, hi) in (('yaw_range_deg', yaw_range_deg),
                         ('pitch_range_deg', pitch_range_deg)):
    if not lo <= hi:
      raise ValueError(f'{name}=({lo}, {hi}): min must be <= max')
  lo = jnp.deg2rad(jnp.array([yaw_range_deg[0], pitch_range_deg[0]]))
  hi = jnp.deg2rad(jnp.array([yaw_range_deg[1], pitch_range_deg[1]]))
  u = jax.random.uniform(rng, (batch, 2))
  return lo + u * (hi - lo)


def to_camera(vertices, viewpoint):
  """Rotates object-space vertices [V, 3] by the viewpoint [2] (or None)."""
  if viewpoint is None:
    return vertices
  chex.assert_shape(viewpoint, (2,))
  return vertices @ rotation_matrix(viewpoint).T.astype(vertices.dtype)


def project_camera(v_cam, settings: RenderSettings):
  """Projects rotated vertices [V, 3] to screen.

  Returns (xy [V, 2] in pixels, depth [V]). Vertices at depth <= near get
  finite, meaningless screen coordinates; the rasterizer drops their
  triangles.
  """
  depth = settings.camera_distance - v_cam[:, 2]
  safe_depth = jnp.where(depth > settings.near, depth, 1.0)
  scale = 0.5 * min(settings.height, settings.width) * settings.focal
  x = 0.5 * settings.width + scale * safe_math.safe_div(v_cam[:, 0], safe_depth)
  y = 0.5 * settings.height - scale * safe_math.safe_div(v_cam[:, 1], safe_depth)
  return jnp.stack([x, y], -1), depth


def project(vertices, viewpoint, settings: RenderSettings):
  """Object space [V, 3] -> (xy [V, 2] pixels, depth [V]); see module doc."""
  return project_camera(to_camera(vertices, viewpoint), settings)
