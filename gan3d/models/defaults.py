"""Defaults of the ``config.model`` section (paper section 7) and ``config.render``.

``model_config('paper')`` gives the sizes of the paper's 128 x 128 model (its
generators run at 2N = 256); ``model_config('tiny')`` gives very small
channels for tests and CPU runs. Every key is documented in ``MODEL_KEYS``.
"""

from __future__ import annotations

import ml_collections

# Key -> meaning. Kept next to the defaults so the documentation cannot drift.
MODEL_KEYS = {
    'z_dim': 'latent size of z_o and z_b (512 in the paper)',
    'w_dim': 'intermediate latent (style) size (512)',
    'mapping_layers': 'fully connected layers of the mapping network (8)',
    'mapping_lr_mult': 'learning-rate multiplier of the mapping network (0.01)',
    'channel_base': 'synthesis feature maps at resolution r: min(channel_base // r, '
                    'channel_max); 16384 reproduces StyleGAN1 (fmap_base 8192) sizes',
    'channel_max': 'cap on synthesis feature maps (512)',
    'style_mixing_prob': 'probability that a sample mixes two latents when '
                         'generate(..., mixing=True) (0.9)',
    'w_avg_beta': 'decay of the running average of w used by the truncation trick (0.995)',
    'shape_pyramid_levels': 'K in eq 13; G_o produces 3K shape channels; 1 = off (paper: 4)',
    'size_constraint': 'apply eq 14 to the final coordinates (paper: True)',
    's_max': 'size bound of eq 14 (paper: 1.3)',
    'shape_param': "'raw' (the generator predicts coordinates, the paper), "
                   "'offset_disc', 'offset_hemisphere', 'offset_paraboloid' or "
                   "'offset_sphere' (offset from a base surface, "
                   "representation.base_surface), 'offset_template' "
                   "(offset from the shape image in model.base_template)",
    'base_template': "a .npy [N, N, 3] shape image, the base of shape_param "
                     "'offset_template' (e.g. benchmarks/face_template.py); '' otherwise",
    'shape_output_scale': 'multiplier on the pyramid output before the base surface '
                          'and eq 14 (1.0 = the plain network output)',
    'shape_init_scale': 'multiplier on the initial toRGB weights of the shape channels '
                        '(1.0 = the usual init; 0 = the untrained generator is exactly the '
                        'base surface); the learning rate is unchanged',
    'base_radius': 'radius of the base disc / hemisphere in object units (the x-y '
                   'extent of every base surface)',
    'base_height': "height of the 'offset_paraboloid' base at its centre (object units)",
    'base_zero_radius': "radius at which the 'offset_paraboloid' base crosses z = 0",
    'base_wrap_deg': "polar angle (degrees) from +z that the rim of the 'offset_sphere' "
                     "base reaches on its ball (90 = the front hemisphere; more wraps "
                     "the rim behind the equator, like a head's sides)",
    'learned_base_mult': "M > 0: G_o learns a shape base of its own, an [R, R, 3K] "
                         "parameter (R: learned_base_res) shared by all samples, zero at "
                         "the start, added as M x it to the raw shape channels before "
                         "eq 13 (so under Adam the mean shape can "
                         "move about M x shape_output_scale x g_lr per step, the network "
                         "giving the per-sample offsets); 0.0 = off (the paper)",
    'learned_base_res': "side R of the learned base's grid (learned_base_mult > 0): 0 = N, "
                        "one value per shape-image pixel; a power of two R < N is "
                        "bilinearly upsampled, so the base can only learn a smooth shape",
    'shape_symmetry': 'mirror-symmetric shapes about the object y-z plane (x -> -x); '
                      'False in the paper',
    'shape_max_res': "highest G_o synthesis resolution (G_o runs at 2N) whose toRGB "
                     "feeds the shape channels: the shape is then smooth at that scale; "
                     "0 = every resolution (the paper)",
    'shape_branch': "'shared': the shape channels are toRGB outputs of G_o's blocks (the "
                    "paper); 'separate': they come from a tower of their own (blocks up to "
                    "shape_max_res, the same styles), so training the texture cannot move "
                    "the shape",
    'skip_pad': "padding of the FIR upsampling in G's skip path (StyleGAN2 'skip' "
                "architecture): 'zero' (StyleGAN2, the paper) lets a constant toRGB output "
                "(a bias) fall off towards the image border (in G_o's 32 x 32 shape image: "
                "over the outer six vertices of a half row, most in the last two); 'edge' "
                "repeats the border pixels, so a bias moves the whole shape image alike",
    'texture_offset': "constant added to G_o's texture channels (the albedo, in [-1, 1] "
                      "units): where the untrained texture's mean sits (0.0 = the plain "
                      "network output, the paper); the toRGB biases can still learn it away",
    'progressive': 'progressive growing with fade-in (paper: True); False = StyleGAN2 skip/residual',
    'progressive_start_res': 'rendered resolution of the first progressive stage (16)',
    'd_channel_base': 'discriminator feature maps at r: min(d_channel_base // r, d_channel_max)',
    'd_channel_max': 'cap on discriminator feature maps',
    'mbstd_group_size': 'minibatch standard-deviation group size (4; 0 = layer off); the '
                        'per-device batch must be divisible by min(group, batch)',
    'mbstd_num_channels': 'features produced by the minibatch-stddev layer (1)',
    'conv_impl': "'auto' (im2col matrix products on a CPU, native convolutions on "
                 "GPU/TPU), 'native' or 'im2col'; same function, different speed",
}


def model_config(variant: str = 'paper') -> ml_collections.ConfigDict:
  """The ``config.model`` section for ``variant`` in {'paper', 'tiny'}."""
  c = ml_collections.ConfigDict()
  c.style_mixing_prob = 0.9
  c.w_avg_beta = 0.995
  c.shape_pyramid_levels = 4
  c.size_constraint = True
  c.s_max = 1.3
  # Offset from a hemisphere, starting close to it (0.1 x the network's
  # initial ~unit output): trains faster than the paper's raw coordinates, which
  # start as a crumpled ball (README "Results": raw vs offset_hemisphere).
  c.shape_param = 'offset_hemisphere'
  c.shape_output_scale = 0.1
  c.shape_init_scale = 1.0
  c.base_radius = 1.0
  c.base_template = ''
  c.base_height = 0.5
  c.base_zero_radius = 0.8
  c.base_wrap_deg = 120.0
  c.learned_base_mult = 0.0
  c.learned_base_res = 0
  c.shape_max_res = 0
  c.shape_symmetry = False
  c.shape_branch = 'shared'
  c.skip_pad = 'zero'
  c.texture_offset = 0.0
  c.progressive = False
  c.progressive_start_res = 16
  c.mbstd_group_size = 4
  c.mbstd_num_channels = 1
  c.mapping_lr_mult = 0.01
  c.conv_impl = 'auto'
  if variant == 'paper':
    c.z_dim = 512
    c.w_dim = 512
    c.mapping_layers = 8
    c.channel_base = 16384
    c.channel_max = 512
    c.d_channel_base = 16384
    c.d_channel_max = 512
  elif variant == 'tiny':
    c.z_dim = 16
    c.w_dim = 16
    c.mapping_layers = 2
    c.channel_base = 64
    c.channel_max = 8
    c.d_channel_base = 64
    c.d_channel_max = 8
  else:
    raise ValueError(f"unknown model variant {variant!r} (expected 'paper' or 'tiny')")
  missing = set(MODEL_KEYS) ^ set(c.keys())
  assert not missing, f'MODEL_KEYS and defaults disagree on {sorted(missing)}'
  return c


def render_config() -> ml_collections.ConfigDict:
  """Default ``config.render``: ``gan3d.render.RenderSettings`` less height/width."""
  c = ml_collections.ConfigDict()
  c.soft = True
  c.soft_width = 1.0
  # lambda_slope 0 (not RenderSettings' default 0.1): every result of
  # README "Results" was trained with it; slope 0.1 (with 4 pairs per pixel)
  # gave the same metrics in two seeds and no faster step at N = 32
  # (2026-11-29).
  c.slope = 0.0
  c.window = 4
  c.camera_distance = 4.0
  c.cull_backfaces = False
  # Soft-layer pair list per image, in pairs per pixel (RenderSettings); a
  # dense mesh at B = 1 and slope 0 needs about 7; 0 = all window pairs
  # (slower).
  c.soft_pairs_per_pixel = 12.0
  # Not the paper: render the generator's images at supersample x the
  # resolution and average S x S blocks, as the synthetic photos are made
  # (gan3d.models.generator.render_scene; window and soft_width are then in
  # pixels of the finer render). 1 = off.
  c.supersample = 1
  return c
