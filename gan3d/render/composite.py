"""Compositing of the soft layer, the crisp layer and the background.

Equation 12 as corrected in renderer-notes.md: the soft layer goes *over* the
crisp-over-background image,

  a(p) = alpha_s a_s + (1 - alpha_s) (alpha_c a_c + (1 - alpha_c) bcg(p)).

(As printed, eq. 12 weights the background by (1 - alpha_c) regardless of
alpha_s, so the weights do not sum to one.)
"""
import jax.numpy as jnp


def composite(crisp, alpha_c, soft, alpha_s, background):
  """All colour arrays [..., C], alphas [...]. Returns (image, alpha)."""
  ac = alpha_c[..., None]
  base = ac * crisp + (1 - ac) * background
  if soft is None:
    return base, alpha_c
  s = alpha_s[..., None]
  return s * soft + (1 - s) * base, alpha_s + (1 - alpha_s) * alpha_c
