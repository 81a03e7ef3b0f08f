"""Pieces shared by the experiment configs: the train/viewpoint sections and
the paper's ablations (Fig. 3) as named variants.

Each config file's ``get_config(arg)`` takes a comma-separated list of
variants, e.g. ``--config=configs/synthetic.py:tiny,crisp``.
"""

from __future__ import annotations

import ml_collections

# Ablations of the paper (section 8, Fig. 3), as edits of a full config.
ABLATIONS = {
    # Fig. 3b: crisp renderer only (no soft layer, eqs 9-11 off).
    'crisp': lambda c: c.render.update(soft=False),
    # Fig. 3c: no size constraint (eq 14 off).
    'no_size': lambda c: c.model.update(size_constraint=False),
    # The reverse, eq 14 on (the paper's setting), for configs whose default
    # is off (configs/synthetic.py).
    'size': lambda c: c.model.update(size_constraint=True),
    # no shape-image pyramid (eq 13 with K = 1).
    'no_pyramid': lambda c: c.model.update(shape_pyramid_levels=1),
    # Fig. 3e: viewpoint range of +-120 degrees yaw.
    'yaw120': lambda c: c.viewpoint.update(yaw_range_deg=(-120.0, 120.0)),
}


def parse_variants(arg: str | None) -> list[str]:
  """``'tiny,crisp'`` -> ``['tiny', 'crisp']``; None or '' -> []."""
  if not arg:
    return []
  return [v.strip() for v in arg.split(',') if v.strip()]


def apply_ablations(config: ml_collections.ConfigDict, variants: list[str],
                    known: tuple[str, ...]) -> ml_collections.ConfigDict:
  """Applies the ablation variants; raises on a name not in ABLATIONS/known."""
  for v in variants:
    if v in ABLATIONS:
      ABLATIONS[v](config)
    elif v not in known:
      raise ValueError(f'unknown config variant {v!r}; known: '
                       f'{sorted(set(known) | set(ABLATIONS))}')
  add_eval_sections(config)
  return config


def add_eval_sections(config: ml_collections.ConfigDict
                      ) -> ml_collections.ConfigDict:
  """Adds config.eval and config.sample (the knobs of launch/evaluate.py and
  launch/sample.py) so that `--config.eval.KEY=...` overrides work."""
  from gan3d import evaluate as eval_lib   # pylint: disable=g-import-not-at-top
  from gan3d import sample as sample_lib   # pylint: disable=g-import-not-at-top
  if 'eval' not in config:
    config.eval = eval_lib.eval_config()
  if 'sample' not in config:
    config.sample = sample_lib.sample_config()
  return config


def viewpoint_config(yaw=(-45.0, 45.0), pitch=(-15.0, 15.0)
                     ) -> ml_collections.ConfigDict:
  """``config.viewpoint``: the known viewpoint prior p_v (section 4, 8)."""
  c = ml_collections.ConfigDict()
  c.yaw_range_deg = tuple(float(x) for x in yaw)
  c.pitch_range_deg = tuple(float(x) for x in pitch)
  return c


def light_config(model: str = 'none', spread_deg: float = 40.0,
                 ambient=(0.35, 0.6), tilt_deg: float = 0.0) -> ml_collections.ConfigDict:
  """``config.light``: the light prior p_l of `gan3d.models.lighting`.

  model 'none' renders the albedo (the paper); 'camera' shades the texture
  (Lambert) with a light within ``spread_deg`` of the viewing axis (the
  cone's centre turned up by ``tilt_deg``) and an ambient fraction uniform
  in ``ambient`` = (min, max).
  """
  c = ml_collections.ConfigDict()
  c.model = str(model)
  c.spread_deg = float(spread_deg)
  c.ambient = tuple(float(x) for x in ambient)
  c.tilt_deg = float(tilt_deg)
  # Slope of the generator's shading on the side facing away from the light
  # (0 = Lambert, as the data; see gan3d.models.lighting.shading_factor).
  c.leak = 0.0
  # Albedo tanh(texture) instead of the texture as it is (False, unbounded).
  c.bounded_albedo = False
  return c


def train_config() -> ml_collections.ConfigDict:
  """``config.train``: optimisation, regularisation, logging, checkpoints."""
  t = ml_collections.ConfigDict()
  t.batch_size = 32               # global batch over all devices and hosts
  t.total_steps = 100_000         # one step = one D update + one G update
  # Adam (StyleGAN: beta1 = 0, beta2 = 0.99).
  t.g_lr = 0.0025
  t.d_lr = 0.0025
  t.adam_b1 = 0.0
  t.adam_b2 = 0.99
  t.adam_eps = 1e-8
  # Learning-rate multiplier of the toRGB weights that make G_o's shape
  # channels (1.0 = the paper: one learning rate for all of G).
  t.shape_lr_mult = 1.0
  # G steps during which those shape weights do not move (0 = none): the
  # texture and background learn on the initial shape first.
  t.shape_freeze_steps = 0
  # Extra multiplier of the learning rate of those toRGB weights' biases
  # (the shape channels' 3K biases per layer, which move the whole shape
  # image at once; 1.0 = the paper, 0 = they stay at 0).
  t.shape_bias_lr_mult = 1.0
  # Weight of the lean penalty on G (gan3d.losses.lean_penalty; 0 = off,
  # the paper): the batch's mean surface normal should face the front.
  t.lean_weight = 0.0
  # Which lean that penalty (and the logged `lean`) measures: 'mesh' (every
  # triangle alike, gan3d.losses.mesh_lean) or 'front' (triangles weighted
  # by their area seen from the front, gan3d.losses.front_lean).
  t.lean_measure = 'mesh'
  # Weight of the smoothness prior on G's meshes (gan3d.losses.
  # normal_consistency, the batch mean; 0 = off, the paper): penalises the
  # creases that draw texture edges with the shape.
  t.smooth_weight = 0.0
  # Weight of the crease prior on G's meshes (gan3d.losses.crease_penalty,
  # the batch mean; 0 = off, the paper): penalises changes of bending
  # between neighbouring grid cells, so folds but not a smooth dome's
  # curvature.
  t.crease_weight = 0.0
  # R1 on reals, lazy: every r1_interval steps, weighted by the interval.
  t.r1_gamma = 1.0
  t.r1_interval = 16              # 0 = R1 off
  # Path-length regularisation of G (StyleGAN2), lazy; weight 0 = off.
  t.pl_weight = 0.0
  t.pl_interval = 4
  t.pl_decay = 0.01
  t.pl_batch_shrink = 2
  # EMA of G: half-life in thousands of images, ramped up early in training.
  t.ema_kimg = 10.0
  t.ema_rampup = 0.05             # None or 0 = no ramp-up
  # Progressive growing (used when model.progressive): thousands of images
  # per fade-in and per stable phase of each resolution stage.
  t.progressive_fade_kimg = 60.0
  t.progressive_stable_kimg = 60.0
  # How a resumed run continues the data stream: 'reseed' restarts the
  # iterator with a seed folded from (data seed, step) -- O(1); 'skip' replays
  # and drops the batches already consumed -- exact continuation of the same
  # stream, O(step) batches.
  t.data_resume = 'skip'
  # Logging / outputs.
  t.log_every_steps = 50
  t.sample_every_steps = 1000     # 0 = no sample grids
  t.num_sample_images = 8
  t.sample_yaws_deg = (-45.0, 0.0, 45.0)
  t.checkpoint_every_steps = 1000
  t.keep_checkpoints = 3
  t.summaries = True              # TensorBoard event files (process 0)
  t.progress_bar = True
  return t
