"""Evaluation of a trained run (issue 6): ``evaluate(config, workdir)``.

Restores the EMA generator of a checkpoint, draws samples and computes

* image metrics against real images: SWD (Karras et al. 2018, `gan3d.eval.swd`)
  always; FID and KID (`gan3d.eval.fid`) only when InceptionV3 weights are
  given (nothing is downloaded);
* on the synthetic data set, the 3D metrics of `gan3d.eval.geometry` (Chamfer
  MMD and coverage, SIDE, MAD, hollow-face rate) of the generated meshes
  rendered at the canonical viewpoint (identity rotation), against the
  ground-truth canonical depth maps and point sets, with three baselines
  beside each number: the flat disc and the sphere cap of
  `gan3d.eval.baselines` and the untrained generator (the run's own initial
  generator: `init_generators` with the key that `gan3d.train` derives from
  ``config.seed``).

Generated images for the image metrics are rendered at viewpoints drawn from
the prior p_v (``config.viewpoint``), like the images the discriminator sees
(paper section 4); the same meshes are rendered again at the canonical view
for the 3D metrics.

Outputs ``<workdir>/eval/metrics_step{N}.json`` (see `evaluate` for the
keys). The generation helpers here (`load_generator`, `map_styles`,
`synthesize_scenes`, `render_batch`) are shared with `gan3d.sample`; each is
compiled once per model config and reused for every batch (batches are padded
to ``batch_size``).
"""

from __future__ import annotations

import functools
import json
import math
import os
from typing import Any, Dict, Optional, Tuple

from absl import logging
import chex
import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan3d import checkpoint
from gan3d import losses
from gan3d import models
from gan3d.models import lighting
from gan3d import state as state_lib

PyTree = Any


def eval_config() -> ml_collections.ConfigDict:
  """Knobs of the evaluation (``config.eval`` overrides these when present).

  num_samples     generated samples per model (the paper: 10k for FID).
  num_real        real images for SWD / FID (capped by the split's size);
                  0 = as many as num_samples.
  num_ground_truth  synthetic test shapes for the 3D metrics; 0 = whole split.
  real_split      split the real images come from ('test' if the data set
                  has it, else this falls back to config.data.split).
  batch_size      samples per compiled generator / renderer call.
  truncation_psi  1.0 = no truncation (standard for metrics).
  noise           per-layer noise inputs of the generator on.
  seed            latents, viewpoints and metric randomness.
  baselines       evaluate the untrained generator and, for 3D, disc / cap.
  disc_radius, cap_height   geometry of the disc / sphere-cap baselines.
  baseline_cache  directory for the disc / sphere-cap 3D metrics, which do
                  not depend on the model: a file per (ground truth, eval
                  settings) is reused by every later evaluation; '' = off.
                  Default ``$GAN3D_CACHE_DIR`` or ``~/.cache/gan3d``.
  swd.*           `gan3d.eval.swd.default_config()`.
  geometry.*      `gan3d.eval.geometry.default_config()` (camera_distance is
                  taken from config.render).
  fid.*           input_size, batch_size, kid_subsets, kid_subset_size.
  """
  from gan3d.eval import geometry  # pylint: disable=g-import-not-at-top
  from gan3d.eval import swd  # pylint: disable=g-import-not-at-top
  c = ml_collections.ConfigDict()
  c.num_samples = 1000
  c.num_real = 0
  c.num_ground_truth = 0
  c.real_split = 'test'
  c.batch_size = 16
  c.truncation_psi = 1.0
  c.noise = True
  c.seed = 0
  c.baselines = True
  c.disc_radius = 0.8
  c.cap_height = 0.5
  c.baseline_cache = os.environ.get('GAN3D_CACHE_DIR',
                                    os.path.join(os.path.expanduser('~'), '.cache', 'gan3d'))
  c.swd = swd.default_config()
  c.geometry = geometry.default_config()
  c.fid = ml_collections.ConfigDict(dict(input_size=299, batch_size=50, kid_subsets=100,
                                         kid_subset_size=1000))
  return c


def resolve_eval_config(config: ml_collections.ConfigDict,
                        **overrides) -> ml_collections.ConfigDict:
  """`eval_config()` updated by ``config.eval`` (if any) and ``overrides``
  (None values ignored); checks the values."""
  c = eval_config()
  if 'eval' in config:
    c.update(config.eval.to_dict() if hasattr(config.eval, 'to_dict') else config.eval)
  c.update({k: v for k, v in overrides.items() if v is not None})
  c.geometry.camera_distance = float(config.render.camera_distance)
  for key in ('num_samples', 'batch_size'):
    if int(c[key]) < 1:
      raise ValueError(f'eval.{key} must be >= 1, got {c[key]}')
  for key in ('num_real', 'num_ground_truth'):
    if int(c[key]) < 0:
      raise ValueError(f'eval.{key} must be >= 0, got {c[key]}')
  if int(c.num_samples) < 2:
    raise ValueError('eval.num_samples must be >= 2 (distributions are compared)')
  return c


# ----------------------------------------------------------------------------
# Restoring the generator.


def checkpoint_dir(workdir: str) -> str:
  return os.path.abspath(os.path.join(workdir, 'checkpoints'))


def available_steps(workdir: str) -> list[int]:
  """Checkpointed steps in ``workdir`` (sorted; [] if none), without creating
  any directory."""
  d = checkpoint_dir(workdir)
  if not os.path.isdir(d):
    return []
  return sorted(int(n) for n in os.listdir(d)
                if n.isdigit() and os.path.isdir(os.path.join(d, n)))


def initial_generator_key(config: ml_collections.ConfigDict) -> jax.Array:
  """The key `gan3d.train` initialises G with: ``create_train_state`` gets
  ``split(PRNGKey(seed))[0]`` and splits it into (base, G, D)."""
  init_key = jax.random.split(jax.random.PRNGKey(int(config.seed)))[0]
  return jax.random.split(init_key, 3)[1]


def untrained_generator(config: ml_collections.ConfigDict) -> PyTree:
  """The run's generator before any update (baseline)."""
  init = _memo('init', config,
               lambda: jax.jit(functools.partial(models.init_generators, config=config)))
  return init(initial_generator_key(config))


def load_generator(config: ml_collections.ConfigDict, workdir: str,
                   step: Optional[int] = None) -> Dict[str, Any]:
  """Restores the EMA generator of a checkpoint.

  Args:
    config: the run's config (shapes of the state).
    workdir: run directory holding ``checkpoints/``.
    step: checkpoint step; None = the latest.
  Returns:
    {'params': EMA generator params, 'w_avg': {name: [w_dim]}, 'step': int}.
  Raises: as `load_train_state`; FloatingPointError for NaN/Inf weights.
  """
  state, step = load_train_state(config, workdir, step)
  if not bool(state_lib.all_finite(state.g_ema_params)):
    raise FloatingPointError(f'checkpoint of step {step} has NaN/Inf generator weights')
  logging.info('restored the EMA generator of step %d from %s', step, checkpoint_dir(workdir))
  return {'params': state.g_ema_params, 'w_avg': state.w_avg, 'step': int(step)}


def load_train_state(config: ml_collections.ConfigDict, workdir: str,
                     step: Optional[int] = None) -> Tuple[state_lib.TrainState, int]:
  """The whole `TrainState` of a checkpoint (generators, EMA, discriminator,
  optimiser states) and its step; ``step`` None = the latest.

  Raises:
    FileNotFoundError: ``workdir`` has no checkpoint, or none at ``step``.
    ValueError: ``config`` builds another model than the run was trained
      with (`checkpoint.check_run_config`).
  """
  steps = available_steps(workdir)
  if not steps:
    raise FileNotFoundError(
        f'no checkpoint found in {checkpoint_dir(workdir)!r}: train first with '
        f'`python -m launch.train --config=... --workdir={workdir}`')
  checkpoint.check_run_config(config, workdir)
  if step is None:
    step = steps[-1]
  elif int(step) not in steps:
    raise FileNotFoundError(f'no checkpoint of step {step} in {checkpoint_dir(workdir)!r}; '
                            f'available steps: {steps}')
  abstract = jax.eval_shape(functools.partial(state_lib.create_train_state, config),
                            jax.random.PRNGKey(0))
  sharding = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  target = jax.tree_util.tree_map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding),
      flax.serialization.to_state_dict(abstract))
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  manager = checkpoint.make_manager(workdir, int(config.train.keep_checkpoints))
  try:
    restored = manager.restore(int(step), args=ocp.args.StandardRestore(target))
  finally:
    manager.close()
  return flax.serialization.from_state_dict(abstract, restored), int(step)


# ----------------------------------------------------------------------------
# Compiled generation pieces (memoised per model config).

_COMPILED: Dict[Any, Any] = {}


def _model_key(config: ml_collections.ConfigDict) -> str:
  d = config.to_dict()
  return repr((d['resolution'], sorted(d['model'].items()), sorted(d['render'].items())))


def _memo(name: str, config, build):
  key = (name, _model_key(config))
  if key not in _COMPILED:
    _COMPILED[key] = build()
  return _COMPILED[key]


def map_styles(params: PyTree, z_o: jax.Array, z_b: jax.Array, w_avg: PyTree,
               truncation_psi: float, config: ml_collections.ConfigDict) -> Dict[str, jax.Array]:
  """``z_o, z_b [B, z_dim]`` -> styles ``{name: [B, num_ws, w_dim]}`` (truncated
  towards ``w_avg`` with ``psi``; psi = 1 leaves them unchanged)."""
  def build():
    def f(params, z_o, z_b, w_avg, psi):
      ws, _ = models.map_latents(params, z_o, z_b, jax.random.PRNGKey(0), config,
                                 truncation_psi=psi, w_avg=w_avg)
      return ws
    return jax.jit(f)
  return _memo('map', config, build)(params, z_o, z_b, w_avg, jnp.float32(truncation_psi))


def synthesize_scenes(params: PyTree, ws: Dict[str, jax.Array], key: jax.Array,
                      config: ml_collections.ConfigDict, noise: bool = True) -> Dict[str, np.ndarray]:
  """Styles -> scenes (no rendering), as numpy.

  Returns shape_image [B, N, N, 3], vertices [B, N*N, 3] (object space),
  faces [F, 3], uv [N*N, 2], texture [B, 2N, 2N, 3], background [B, N, N, 3].
  """
  def build():
    def f(params, ws, key, noise):
      k_noise, k_crop = jax.random.split(key)
      raw = models.synthesize(params, ws, k_noise if noise else None, config)
      return models.build_scene(raw, k_crop, config)
    return jax.jit(f, static_argnums=(3,))
  return jax.device_get(_memo('synth', config, build)(params, ws, key, bool(noise)))


def render_batch(vertices, texture, background, viewpoints, faces, uv,
                 config: ml_collections.ConfigDict, lights=None) -> Dict[str, np.ndarray]:
  """Renders R meshes (one viewpoint each) with the training renderer.

  Args:
    vertices [R, V, 3]; texture [R, 2N, 2N, 3]; background [R, N, N, 3];
    viewpoints [R, 2] radians; faces [F, 3]; uv [V, 2]; lights [R, 4]
    (`gan3d.models.lighting`) or None (the albedo).
  Returns numpy image [R, N, N, 3], alpha (soft + crisp coverage), mask (crisp
  coverage), depth (crisp, z_far where empty) [R, N, N], normals [R, N, N, 3].
  """
  def build():
    def f(vertices, texture, background, viewpoints, faces, uv, lights):
      n = int(config.resolution)
      scene = dict(vertices=vertices, texture=texture, background=background, faces=faces,
                   uv=uv, shape_image=jnp.zeros((vertices.shape[0], n, n, 3)))
      images, out = models.render_scene(scene, viewpoints, config, lights)
      return dict(image=images, alpha=out['alpha'], mask=out['mask'], depth=out['depth'],
                  normals=out['normals'])
    return jax.jit(f)
  if lights is not None:
    lights = jnp.asarray(lights, jnp.float32)
  return jax.device_get(_memo('render', config, build)(
      vertices, texture, background, jnp.asarray(viewpoints, jnp.float32), faces, uv,
      lights))


def pad_to(x: np.ndarray, size: int) -> np.ndarray:
  """Pads the leading axis to ``size`` by repeating the last row."""
  x = np.asarray(x)
  if x.shape[0] == size:
    return x
  return np.concatenate([x, np.repeat(x[-1:], size - x.shape[0], axis=0)])


def generate_eval_set(params: PyTree, w_avg: PyTree, config: ml_collections.ConfigDict,
                      ecfg: ml_collections.ConfigDict, rng: jax.Array,
                      desc: str = 'generate', progress: bool = True) -> Dict[str, np.ndarray]:
  """``ecfg.num_samples`` samples of a generator.

  Latents z ~ N(0, I); one viewpoint per sample from the prior p_v
  (``config.viewpoint``) and, with a light prior (``config.light``), one
  light. Returns numpy: image [S, N, N, 3] in [-1, 1] at the prior
  viewpoint; depth, alpha [S, N, N] and normals [S, N, N, 3] of the
  same mesh at the canonical viewpoint (0, 0); lean [S], `losses.mesh_lean`
  of each mesh; viewpoint [S, 2] (yaw, pitch radians) of ``image`` and
  view_mask [S, N, N], the crisp coverage there. ``alpha`` is the crisp
  coverage: the soft layer's halo has no depth, so the 3D metrics use the
  crisp surface only.
  """
  from gan3d.render import camera  # pylint: disable=g-import-not-at-top
  num, bs, zd = int(ecfg.num_samples), int(ecfg.batch_size), int(config.model.z_dim)
  chunks = range(math.ceil(num / bs))
  out = {k: [] for k in ('image', 'depth', 'alpha', 'normals', 'lean', 'viewpoint',
                          'view_mask')}
  for c in _progress(chunks, desc, progress):
    k = jax.random.fold_in(rng, c)
    k_zo, k_zb, k_view, k_syn, k_light = (jax.random.fold_in(k, i) for i in range(5))
    z_o = jax.random.normal(k_zo, (bs, zd))
    z_b = jax.random.normal(k_zb, (bs, zd))
    vp = camera.sample_viewpoints(k_view, bs, tuple(config.viewpoint.yaw_range_deg),
                                  tuple(config.viewpoint.pitch_range_deg))
    ws = map_styles(params, z_o, z_b, w_avg, float(ecfg.truncation_psi), config)
    sc = synthesize_scenes(params, ws, k_syn, config, bool(ecfg.noise))
    args = (sc['vertices'], sc['texture'], sc['background'])
    lights = lighting.prior_lights(k_light, bs, config)   # as in training
    prior = render_batch(*args, vp, sc['faces'], sc['uv'], config, lights)
    canon = render_batch(*args, np.zeros((bs, 2), np.float32), sc['faces'], sc['uv'], config)
    out['image'].append(prior['image'])
    out['viewpoint'].append(np.asarray(vp))
    out['view_mask'].append(prior['mask'])
    out['depth'].append(canon['depth'])
    out['normals'].append(canon['normals'])
    out['alpha'].append(canon['mask'])
    out['lean'].append(np.asarray(losses.mesh_lean(sc['vertices'], sc['faces'])))
  out = {k: np.concatenate(v)[:num] for k, v in out.items()}
  chex.assert_shape(out['image'], (num, int(config.resolution), int(config.resolution), 3))
  return out


def _progress(it, desc: str, enabled: bool):
  if not enabled:
    return it
  try:
    import tqdm  # pylint: disable=g-import-not-at-top
  except ImportError:
    return it
  return tqdm.tqdm(it, desc=desc, unit='batch', dynamic_ncols=True, leave=False)


# ----------------------------------------------------------------------------
# Real data.


def load_real_images(config: ml_collections.ConfigDict, split: str, num: int) -> np.ndarray:
  """The first ``num`` images of ``split`` (falls back to config.data.split when
  the data set has no such split), float32 [num', N, N, 3] in [-1, 1] with
  num' = min(num, split size)."""
  from gan3d.data import pipeline  # pylint: disable=g-import-not-at-top
  builder = pipeline.get_builder(config)
  if split not in builder.info.splits:
    logging.warning('data set has no %r split; using %r for the real images', split,
                    config.data.split)
    split = config.data.split
  src = builder.as_data_source(split)
  num = min(int(num), len(src))
  if num < 2:
    raise ValueError(f'split {split!r} has {len(src)} images; need >= 2 real images')
  imgs = np.stack([e['image'] for e in src.__getitems__(list(range(num)))])
  return imgs.astype(np.float32) / 127.5 - 1.0


# ----------------------------------------------------------------------------
# Metrics.


def image_metrics(real: np.ndarray, fake: np.ndarray, ecfg: ml_collections.ConfigDict,
                  inception_params: Optional[PyTree]) -> Dict[str, float]:
  """SWD (x 1e3, per pyramid level and average); FID / KID if weights given."""
  from gan3d.eval import swd  # pylint: disable=g-import-not-at-top
  swd_cfg = ml_collections.ConfigDict(ecfg.swd.to_dict())
  swd_cfg.min_resolution = min(int(swd_cfg.min_resolution), real.shape[1])
  out = dict(swd.swd(real, fake, seed=int(ecfg.seed), config=swd_cfg))
  if inception_params is not None:
    from gan3d.eval import fid  # pylint: disable=g-import-not-at-top
    f = ecfg.fid
    out.update(fid.fid_kid(inception_params, real, fake, input_size=int(f.input_size),
                           batch_size=int(f.batch_size), kid_subsets=int(f.kid_subsets),
                           kid_subset_size=int(f.kid_subset_size), seed=int(ecfg.seed)))
  return out


def geometry_metrics(generated: Dict[str, np.ndarray], gt: Dict[str, np.ndarray],
                     rng: jax.Array, ecfg: ml_collections.ConfigDict) -> Dict[str, float]:
  """`geometry.evaluate_geometry` on the samples whose canonical render covers
  at least one pixel; ``empty_rate`` is the fraction that covers none (they
  are left out of every other number)."""
  from gan3d.eval import geometry  # pylint: disable=g-import-not-at-top
  keep, sub = covered_samples(generated, ecfg)
  out = {'empty_rate': float(1.0 - keep.mean())}
  if not keep.any():
    nan = float('nan')
    out.update(mmd_cd=nan, coverage=0.0, side=nan, mad=nan, side_num_valid=0,
               mad_num_valid=0, hollow_rate=nan)
    return out
  out.update(geometry.evaluate_geometry(sub, gt, rng, ecfg.geometry))
  return out


def covered_samples(generated: Dict[str, np.ndarray], ecfg: ml_collections.ConfigDict
                    ) -> tuple[np.ndarray, Dict[str, np.ndarray]]:
  """(keep [S] bool, the depth, normals and alpha of the kept samples): the
  samples whose canonical render covers at least one pixel (alpha above
  ``ecfg.geometry.alpha_threshold``), the ones `geometry_metrics` scores."""
  mask = np.asarray(generated['alpha']) > ecfg.geometry.alpha_threshold
  keep = mask.reshape(mask.shape[0], -1).any(axis=1)
  return keep, {k: np.asarray(generated[k])[keep] for k in ('depth', 'normals', 'alpha')}


def _baseline_cache_path(ecfg: ml_collections.ConfigDict, gt: Dict[str, np.ndarray],
                         n: int, d: float) -> Optional[str]:
  """File for the disc / sphere-cap 3D metrics of these settings, or None.

  The name hashes everything the numbers depend on: the ground truth's
  bytes, the resolution and camera, the sample count, seed and baseline
  geometry, and the geometry-metric config.
  """
  if not ecfg.baseline_cache:
    return None
  import hashlib  # pylint: disable=g-import-not-at-top
  h = hashlib.sha256()
  for k in sorted(gt):
    a = np.ascontiguousarray(np.asarray(gt[k]))
    h.update(f'{k}:{a.dtype}:{a.shape}'.encode())
    h.update(a.tobytes())
  settings = dict(n=n, d=d, num_samples=int(ecfg.num_samples), seed=int(ecfg.seed),
                  disc_radius=float(ecfg.disc_radius), cap_height=float(ecfg.cap_height),
                  geometry=ecfg.geometry.to_dict(), version=1)
  h.update(json.dumps(settings, sort_keys=True, default=str).encode())
  return os.path.join(str(ecfg.baseline_cache), f'eval_baselines_{h.hexdigest()[:20]}.json')


def _read_json(path: Optional[str]) -> Optional[dict]:
  if not path or not os.path.exists(path):
    return None
  try:
    with open(path) as fh:
      return json.load(fh)
  except (OSError, ValueError) as e:  # a damaged cache file is recomputed
    logging.warning('ignoring unreadable baseline cache %s: %s', path, e)
    return None


def _write_json_atomic(path: str, obj: Any) -> None:
  checkpoint.write_text_atomic(
      path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default))


def evaluate(config: ml_collections.ConfigDict, workdir: str, step: Optional[int] = None,
             num_samples: Optional[int] = None, inception_weights: Optional[str] = None,
             progress: bool = True, **eval_overrides) -> Dict[str, Any]:
  """Evaluates a checkpoint; writes and returns the metrics.

  Args:
    config: the run's config; ``config.eval`` (optional) overrides `eval_config()`.
    workdir: run directory with ``checkpoints/``.
    step: checkpoint step (None: latest).
    num_samples: overrides ``eval.num_samples``.
    inception_weights: .npz of InceptionV3 weights (`gan3d.eval.inception`);
      FID / KID are computed only when given.
    progress: tqdm progress bars.
    **eval_overrides: any other ``eval.*`` key.
  Returns (and writes to ``<workdir>/eval/metrics_step{N}.json``)::

    {'step': N, 'num_samples': S, 'num_real': R, 'data': name,
     'image': {'generator': {'swd_<res>'..., 'swd_avg'[, 'fid', 'kid', 'kid_std']},
               'untrained': {...same keys...}},
     'geometry': {'num_ground_truth': M,             # synthetic data only
                  'generator' | 'untrained' | 'disc' | 'sphere_cap':
                     {'mmd_cd', 'coverage', 'side', 'mad', 'side_num_valid', 'mad_num_valid',
                      'hollow_rate', 'empty_rate'}},
     'json_path': ...}
  """
  ecfg = resolve_eval_config(config, num_samples=num_samples, **eval_overrides)
  gen = load_generator(config, workdir, step)
  root = jax.random.PRNGKey(int(ecfg.seed))
  k_gen, k_geo = jax.random.split(root)
  inception_params = None
  if inception_weights:
    from gan3d.eval import inception  # pylint: disable=g-import-not-at-top
    inception_params = inception.load_params(inception_weights)

  models_to_eval = {'generator': (gen['params'], gen['w_avg'])}
  if ecfg.baselines:
    models_to_eval['untrained'] = (untrained_generator(config), models.init_w_avg(config))
  num_real = int(ecfg.num_real) or int(ecfg.num_samples)
  real = load_real_images(config, ecfg.real_split, num_real)
  result: Dict[str, Any] = {'step': gen['step'], 'num_samples': int(ecfg.num_samples),
                            'num_real': int(real.shape[0]), 'data': str(config.data.name),
                            'truncation_psi': float(ecfg.truncation_psi), 'image': {}}
  samples = {}
  for name, (params, w_avg) in models_to_eval.items():
    # The same latents and viewpoints for both generators (common random numbers).
    samples[name] = generate_eval_set(params, w_avg, config, ecfg, k_gen, desc=name,
                                      progress=progress)
    result['image'][name] = image_metrics(real, samples[name]['image'], ecfg,
                                          inception_params)

  if config.data.name == 'synthetic':
    from gan3d.data import pipeline  # pylint: disable=g-import-not-at-top
    from gan3d.eval import baselines  # pylint: disable=g-import-not-at-top
    num_gt = int(ecfg.num_ground_truth) or None
    if num_gt is not None:
      num_gt = min(num_gt, int(config.data.synthetic.num_test))
    gt = pipeline.load_synthetic_ground_truth(config, split='test', num=num_gt)
    n, d = int(config.resolution), float(config.render.camera_distance)
    sets = dict(samples)
    cache_path, cached = None, None
    if ecfg.baselines:
      cache_path = _baseline_cache_path(ecfg, gt, n, d)
      cached = _read_json(cache_path)
      if cached is None:
        s = int(ecfg.num_samples)
        sets['disc'] = baselines.disc(s, n, n, d, radius=float(ecfg.disc_radius))
        sets['sphere_cap'] = baselines.sphere_cap(s, n, n, d, radius=float(ecfg.disc_radius),
                                                  cap_height=float(ecfg.cap_height))
      else:
        logging.info('disc / sphere-cap 3D metrics from %s', cache_path)
    geo: Dict[str, Any] = {'num_ground_truth': int(gt['canonical_depth'].shape[0])}
    for name, generated in _progress(list(sets.items()), '3D metrics', progress):
      geo[name] = geometry_metrics(generated, gt, k_geo, ecfg)
    if cached is not None:
      geo.update(cached)
    elif cache_path:
      _write_json_atomic(cache_path, {k: geo[k] for k in ('disc', 'sphere_cap')})
    result['geometry'] = geo

  path = os.path.join(workdir, 'eval', f'metrics_step{gen["step"]}.json')
  _write_json_atomic(path, result)
  result['json_path'] = path
  return result


def _json_default(x):
  if isinstance(x, (np.floating, np.integer)):
    return x.item()
  raise TypeError(f'not JSON serialisable: {type(x)}')


# ----------------------------------------------------------------------------
# Table.

_GEO_ROWS = (('mmd_cd', 'Chamfer MMD (lower better)'), ('coverage', 'coverage (higher better)'),
             ('side', 'SIDE (lower better)'), ('mad', 'MAD deg (lower better)'),
             ('hollow_rate', 'hollow-face rate'), ('empty_rate', 'empty at canonical view'))


def format_table(result: Dict[str, Any]) -> str:
  """A plain-text table of `evaluate`'s result, baselines beside each number."""
  lines = [f"step {result['step']}: {result['num_samples']} samples, "
           f"{result['num_real']} real images ({result['data']})", '']
  img = result['image']
  cols = list(img)
  keys = [k for k in img['generator'] if k != 'kid_std']
  lines.append(_row('image metric', cols))
  for k in keys:
    lines.append(_row(k + (' (x1e3)' if k.startswith('swd') else ''),
                      [img[c].get(k, float('nan')) for c in cols]))
  if 'geometry' in result:
    geo = result['geometry']
    cols = [c for c in ('generator', 'untrained', 'disc', 'sphere_cap') if c in geo]
    lines += ['', f"3D metrics at the canonical view vs {geo['num_ground_truth']} "
              'ground-truth shapes']
    lines.append(_row('3D metric', cols))
    for k, label in _GEO_ROWS:
      lines.append(_row(label, [geo[c][k] for c in cols]))
  return '\n'.join(lines)


def _row(label, values) -> str:
  cells = [f'{v:>12}' if isinstance(v, str) else f'{v:>12.4g}' for v in values]
  return f'{label:<30}' + ''.join(cells)
