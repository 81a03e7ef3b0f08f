"""Building blocks of the StyleGAN2 generator and discriminator (paper section 7).

All layers use the *equalised learning rate* of Karras et al.: parameters are
initialised from N(0, 1 / lr_mult) and scaled at run time by
``lr_mult / sqrt(fan_in)`` (weights) or ``lr_mult`` (biases), so that every
layer learns at the same speed under Adam regardless of its fan-in.

Layout is channel-last everywhere: activations ``[B, H, W, C]``, conv kernels
``[k, k, C_in, C_out]``.

Up/downsampling uses the separable FIR filter ``[1, 3, 3, 1]`` (StyleGAN2's
``upfirdn2d``) written with ``lax.conv_general_dilated``; the filter is a fixed
constant, not a parameter.
"""

from __future__ import annotations

import contextvars
import math
from typing import Optional, Sequence

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

# Leaky ReLU slope and the gain that restores unit variance after it
# (StyleGAN's 'lrelu' activation; these are the architecture's definition,
# not tuning knobs).
LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)
FIR_KERNEL = (1.0, 3.0, 3.0, 1.0)


def lrelu(x: jax.Array) -> jax.Array:
  """Leaky ReLU (slope 0.2) times sqrt(2), StyleGAN's 'lrelu' activation."""
  return jax.nn.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN


def pixel_norm(x: jax.Array, eps: float = 1e-8) -> jax.Array:
  """Normalise each vector to unit RMS along the last axis: ``[..., D]``."""
  return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + eps)


# ----------------------------------------------------------------------------
# FIR up/downsampling (upfirdn2d with the [1, 3, 3, 1] filter).


def _fir_2d(gain: float) -> np.ndarray:
  k = np.asarray(FIR_KERNEL, np.float32)
  k2 = np.outer(k, k)
  return (k2 / k2.sum() * gain).astype(np.float32)


def _fir_1d(x: jax.Array, axis: int, taps: Sequence[float],
            pad: tuple[int, int], stride: int = 1) -> jax.Array:
  """Correlate ``x`` along ``axis`` with the fixed ``taps`` (zero padding).

  Written as a sum of strided slices rather than a depthwise
  ``conv_general_dilated``: XLA fuses it into elementwise loops, which on a
  CPU run an order of magnitude faster than the grouped convolution, forward
  and backward (see the before/after figures of ``benchmarks/train_step.py``).
  ``y[i] = sum_t taps[t] * x_padded[stride * i + t]``.
  """
  n = x.shape[axis]
  widths = [(0, 0)] * x.ndim
  widths[axis] = pad
  xp = jnp.pad(x, widths)
  n_out = (n + pad[0] + pad[1] - len(taps)) // stride + 1
  y = None
  for t, tap in enumerate(taps):
    sl = jax.lax.slice_in_dim(xp, t, t + stride * (n_out - 1) + 1, stride=stride,
                              axis=axis)
    y = tap * sl if y is None else y + tap * sl
  return y


def _fir_2d_separable(x: jax.Array, gain: float, pad: tuple[int, int],
                      stride: int = 1) -> jax.Array:
  """The [1,3,3,1] filter (normalised, times ``gain``) along H and W of
  ``x [B, H, W, C]``; equals a depthwise conv with ``_fir_2d(gain)``."""
  k = np.asarray(FIR_KERNEL, np.float64)
  taps = [float(v) for v in k / k.sum() * math.sqrt(gain)]
  return _fir_1d(_fir_1d(x, 1, taps, pad, stride), 2, taps, pad, stride)


UPSAMPLE_PADS = ('zero', 'edge')


def _upsample_1d(x: jax.Array, axis: int, pad: str = 'zero') -> jax.Array:
  """Zero insertion + [1,3,3,1] filter (gain 2) along ``axis``, polyphase form.

  Output ``y[2m] = (k0 x[m-1] + k2 x[m]) * 2 / sum(k)`` and
  ``y[2m+1] = (k1 x[m] + k3 x[m+1]) * 2 / sum(k)`` with ``x[-1] = x[n] = 0``
  (``pad='zero'``, StyleGAN2) or ``x[-1] = x[0]``, ``x[n] = x[n-1]``
  (``pad='edge'``: since ``k0 + k2 = k1 + k3``, a constant then stays
  constant up to the border).
  """
  if pad not in UPSAMPLE_PADS:
    raise ValueError(f'upsampling pad must be one of {UPSAMPLE_PADS}, got {pad!r}')
  k = np.asarray(FIR_KERNEL, np.float64)
  k = k / k.sum() * 2.0
  n = x.shape[axis]
  widths = [(0, 0)] * x.ndim
  widths[axis] = (1, 1)
  xp = jnp.pad(x, widths, mode='edge' if pad == 'edge' else 'constant')
  prev = jax.lax.slice_in_dim(xp, 0, n, axis=axis)
  cur = jax.lax.slice_in_dim(xp, 1, n + 1, axis=axis)
  nxt = jax.lax.slice_in_dim(xp, 2, n + 2, axis=axis)
  even = float(k[0]) * prev + float(k[2]) * cur
  odd = float(k[1]) * cur + float(k[3]) * nxt
  y = jnp.stack([even, odd], axis=axis + 1)
  shape = list(x.shape)
  shape[axis] = 2 * n
  return y.reshape(shape)


def upsample2d(x: jax.Array, pad: str = 'zero') -> jax.Array:
  """2x upsampling with the FIR filter: ``[B, H, W, C] -> [B, 2H, 2W, C]``.

  Zero insertion followed by the [1,3,3,1] filter with gain 4; with
  ``pad='zero'`` StyleGAN2's ``upfirdn2d(up=2, pad=(2, 1))``, so a constant
  image stays constant away from the border and falls by a quarter in the
  outermost pixel; ``pad='edge'`` repeats the edge pixel instead, so a
  constant stays constant everywhere (`_upsample_1d`).
  """
  chex.assert_rank(x, 4)
  return _upsample_1d(_upsample_1d(x, 1, pad), 2, pad)


def downsample2d(x: jax.Array) -> jax.Array:
  """2x downsampling with the FIR filter: ``[B, H, W, C] -> [B, H/2, W/2, C]``."""
  chex.assert_rank(x, 4)
  return _fir_2d_separable(x, 1.0, pad=(1, 1), stride=2)


# ----------------------------------------------------------------------------
# Parameters with inspectable initialisers, and a fast initialiser.
#
# Every parameter of these networks is initialised either from N(0, std^2) or
# to a constant. ``param`` declares it through Flax as usual (so ``module.init``
# works) and, while ``fast_init`` traces the module, also records the rule under
# the parameter's path. ``fast_init`` then draws all normal entries from ONE
# ``jax.random.normal`` call: compiling one threefry instead of two per
# parameter (make_rng + initialiser) makes initialisation take seconds instead
# of minutes on a CPU. Same distribution as ``module.init``, different values.

_INIT_RECORD: contextvars.ContextVar[Optional[dict]] = contextvars.ContextVar(
    'gan3d_init_record', default=None)


def param(module: nn.Module, name: str, kind: str, value: float,
          shape: tuple[int, ...]) -> jax.Array:
  """Declare ``module``'s parameter ``name``: 'normal' (std ``value``) or
  'constant' (``value``)."""
  record = _INIT_RECORD.get()
  if record is not None:
    record[tuple(module.path) + (name,)] = (kind, float(value))
  if kind == 'normal':
    init = nn.initializers.normal(float(value))
  elif kind == 'constant':
    init = nn.initializers.constant(float(value))
  else:
    raise ValueError(f'unknown initialiser kind {kind!r}')
  return module.param(name, init, tuple(shape))


def fast_init(module: nn.Module, rng: jax.Array, *args, **kwargs) -> dict:
  """``module.init(rng, *args)['params']`` with all random entries from one draw.

  Every parameter must be declared with ``param`` (raises otherwise).
  """
  record: dict = {}
  token = _INIT_RECORD.set(record)
  try:
    abstract = jax.eval_shape(
        lambda k: module.init(k, *args, **kwargs)['params'], jax.random.key(0))
  finally:
    _INIT_RECORD.reset(token)
  flat, treedef = jax.tree_util.tree_flatten_with_path(abstract)
  specs = []
  for path, leaf in flat:
    names = tuple(getattr(k, 'key', str(k)) for k in path)
    if names not in record:
      raise ValueError(f'parameter {"/".join(names)} was not declared with layers.param')
    specs.append((leaf, *record[names]))
  total = sum(int(np.prod(l.shape)) for l, kind, _ in specs if kind == 'normal')
  noise = jax.random.normal(rng, (max(total, 1),), jnp.float32)
  traced = isinstance(noise, jax.core.Tracer)
  if not traced:
    noise = np.asarray(noise)  # slice on the host: no per-leaf compilation
  xp = jnp if traced else np
  leaves, offset = [], 0
  for leaf, kind, value in specs:
    size = int(np.prod(leaf.shape))
    if kind == 'normal':
      arr = noise[offset:offset + size].reshape(leaf.shape) * value
      offset += size
    else:
      arr = xp.full(leaf.shape, value)
    leaves.append(jnp.asarray(arr, leaf.dtype))
  return jax.tree_util.tree_unflatten(treedef, leaves)


# ----------------------------------------------------------------------------
# Equalised-learning-rate layers.


class EqualDense(nn.Module):
  """Fully connected layer with equalised learning rate.

  ``[..., D_in] -> [..., features]``. ``activation`` is 'linear' or 'lrelu'.
  """
  features: int
  lr_mult: float = 1.0
  bias_init: float = 0.0
  use_bias: bool = True
  activation: str = 'linear'

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    fan_in = x.shape[-1]
    w = param(self, 'kernel', 'normal', 1.0 / self.lr_mult, (fan_in, self.features))
    y = x @ (w * (self.lr_mult / math.sqrt(fan_in))).astype(x.dtype)
    if self.use_bias:
      b = param(self, 'bias', 'constant', self.bias_init / self.lr_mult, (self.features,))
      y = y + (b * self.lr_mult).astype(x.dtype)
    return _activate(y, self.activation)


def _activate(x: jax.Array, activation: str) -> jax.Array:
  if activation == 'linear':
    return x
  if activation == 'lrelu':
    return lrelu(x)
  raise ValueError(f'unknown activation {activation!r} (expected linear|lrelu)')


class EqualConv2d(nn.Module):
  """Plain convolution with equalised learning rate (discriminator).

  ``[B, H, W, C_in] -> [B, H', W', features]`` with ``H' = H`` or ``H / 2``
  when ``down``. Downsampling is FIR blur followed by a stride-2 conv
  (StyleGAN2's 'down' convolution).
  """
  features: int
  kernel_size: int = 3
  down: bool = False
  use_bias: bool = True
  activation: str = 'linear'
  conv_impl: str = 'native'   # see resolve_conv_impl

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    chex.assert_rank(x, 4)
    cin = x.shape[-1]
    k = self.kernel_size
    w = param(self, 'kernel', 'normal', 1.0, (k, k, cin, self.features))
    w = (w / math.sqrt(cin * k * k)).astype(x.dtype)
    if self.down:
      if k == 1:
        x = downsample2d(x)
        y = _conv(x, w, stride=1, pad=0, impl=self.conv_impl)
      else:
        # Blur with padding so that the stride-2 kxk conv yields H/2 outputs.
        p = (len(FIR_KERNEL) - 2) + (k - 1)
        x = _fir_2d_separable(x, 1.0, pad=((p + 1) // 2, p // 2))
        y = _conv(x, w, stride=2, pad=0, impl=self.conv_impl)
    else:
      y = _conv(x, w, stride=1, pad=k // 2, impl=self.conv_impl)
    if self.use_bias:
      b = param(self, 'bias', 'constant', 0.0, (self.features,))
      y = y + b.astype(y.dtype)
    return _activate(y, self.activation)


CONV_IMPLS = ('auto', 'native', 'im2col')


def resolve_conv_impl(impl: str) -> str:
  """``'auto'`` -> ``'im2col'`` on a CPU backend, ``'native'`` elsewhere.

  ``'native'`` is ``lax.conv_general_dilated`` (cuDNN / TPU convolutions).
  ``'im2col'`` gathers the k x k neighbourhoods and does one matrix product:
  the same function, but XLA:CPU computes the *weight* gradient of a native
  convolution with a slow generic loop, so on a CPU the whole training step
  runs about twice as fast with im2col (README, "Training speed"). It uses
  k^2 times the activation memory, which is why accelerators keep 'native'.
  """
  if impl not in CONV_IMPLS:
    raise ValueError(f'config.model.conv_impl must be one of {CONV_IMPLS}, got {impl!r}')
  if impl == 'auto':
    return 'im2col' if jax.default_backend() == 'cpu' else 'native'
  return impl


def _conv(x: jax.Array, w: jax.Array, stride: int, pad: int,
          impl: str = 'native') -> jax.Array:
  """``x [B, H, W, C_in]`` (*) ``w [k, k, C_in, C_out]``, zero padding ``pad``."""
  impl = resolve_conv_impl(impl)
  if impl == 'im2col':
    return _conv_im2col(x, w, stride, pad)
  return jax.lax.conv_general_dilated(
      x, w, window_strides=(stride, stride), padding=((pad, pad), (pad, pad)),
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


def _conv_im2col(x: jax.Array, w: jax.Array, stride: int, pad: int) -> jax.Array:
  """The convolution of ``_conv`` as patches ``[B*H'*W', k*k*C_in]`` @ weights."""
  kh, kw, cin, cout = w.shape
  b, h, wd, _ = x.shape
  xp = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  ho = (h + 2 * pad - kh) // stride + 1
  wo = (wd + 2 * pad - kw) // stride + 1
  cols = [jax.lax.slice(xp, (0, i, j, 0),
                        (b, i + stride * (ho - 1) + 1, j + stride * (wo - 1) + 1, cin),
                        (1, stride, stride, 1))
          for i in range(kh) for j in range(kw)]
  patches = cols[0] if len(cols) == 1 else jnp.concatenate(cols, axis=-1)
  y = jnp.dot(patches.reshape(-1, kh * kw * cin), w.reshape(kh * kw * cin, cout))
  return y.reshape(b, ho, wo, cout)


class ModulatedConv2d(nn.Module):
  """Style-modulated convolution with weight demodulation (StyleGAN2).

  Inputs ``x [B, H, W, C_in]`` and a style vector ``w [B, w_dim]``; output
  ``[B, H', W', features]`` (``H' = 2H`` when ``up``). Implemented in the
  non-fused form: scale the input channels by the style, convolve with the
  shared weight, scale the output channels by the demodulation coefficient
  ``1 / sqrt(sum_{k, c_in} (W * s)^2 + eps)`` -- mathematically identical to
  modulating the weights per sample.

  ``up`` upsamples by 2 (FIR) before the convolution.
  """
  features: int
  kernel_size: int = 3
  up: bool = False
  demodulate: bool = True
  eps: float = 1e-8
  conv_impl: str = 'native'   # see resolve_conv_impl

  @nn.compact
  def __call__(self, x: jax.Array, w: jax.Array) -> jax.Array:
    chex.assert_rank([x, w], [4, 2])
    chex.assert_equal(x.shape[0], w.shape[0])
    cin = x.shape[-1]
    k = self.kernel_size
    # Affine style, bias initialised to 1 so that styles start at identity.
    styles = EqualDense(cin, bias_init=1.0, name='affine')(w)      # [B, C_in]
    weight = param(self, 'kernel', 'normal', 1.0, (k, k, cin, self.features))
    weight = weight / math.sqrt(cin * k * k)
    x = x * styles[:, None, None, :].astype(x.dtype)
    if self.up:
      x = upsample2d(x)
    y = _conv(x, weight.astype(x.dtype), stride=1, pad=k // 2, impl=self.conv_impl)
    if self.demodulate:
      # sum over (kh, kw, C_in) of (W[.., i, o] * s_i)^2 -> [B, C_out]
      wsq = jnp.sum(jnp.square(weight), axis=(0, 1))                 # [C_in, C_out]
      dcoefs = jax.lax.rsqrt(jnp.square(styles) @ wsq + self.eps)    # [B, C_out]
      y = y * dcoefs[:, None, None, :].astype(y.dtype)
    return y


class NoiseInjection(nn.Module):
  """Adds per-pixel Gaussian noise with a learned per-layer strength (init 0).

  ``x [B, H, W, C]``; the noise ``[B, H, W, 1]`` is drawn from ``key`` (one key
  per layer, the caller folds in the layer index). ``key=None`` disables noise
  (deterministic synthesis).
  """

  @nn.compact
  def __call__(self, x: jax.Array, key: Optional[jax.Array]) -> jax.Array:
    strength = param(self, 'strength', 'constant', 0.0, ())
    if key is None:
      return x
    noise = jax.random.normal(key, x.shape[:3] + (1,), x.dtype)
    return x + noise * strength.astype(x.dtype)


class StyleLayer(nn.Module):
  """Modulated conv -> noise -> bias -> lrelu (one synthesis layer)."""
  features: int
  up: bool = False
  kernel_size: int = 3
  conv_impl: str = 'native'

  @nn.compact
  def __call__(self, x: jax.Array, w: jax.Array,
               key: Optional[jax.Array]) -> jax.Array:
    y = ModulatedConv2d(self.features, self.kernel_size, up=self.up,
                        conv_impl=self.conv_impl, name='conv')(x, w)
    y = NoiseInjection(name='noise')(y, key)
    b = param(self, 'bias', 'constant', 0.0, (self.features,))
    return lrelu(y + b.astype(y.dtype))


class ToRGB(nn.Module):
  """1x1 modulated conv without demodulation, plus bias (skip-style output).

  StyleGAN2 scales the style by 1/sqrt(C_in) for this layer; here that gain is
  part of the kernel's equalised-lr scale, which is the same product.
  """
  features: int
  conv_impl: str = 'native'

  @nn.compact
  def __call__(self, x: jax.Array, w: jax.Array) -> jax.Array:
    y = ModulatedConv2d(self.features, kernel_size=1, demodulate=False,
                        conv_impl=self.conv_impl, name='conv')(x, w)
    b = param(self, 'bias', 'constant', 0.0, (self.features,))
    return y + b.astype(y.dtype)


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
  """Feature maps at resolution ``res``: ``min(channel_base // res, channel_max)``."""
  return max(1, min(channel_base // res, channel_max))


def check_power_of_two(value: int, name: str, minimum: int = 4) -> int:
  """Raise a clear ValueError unless ``value`` is a power of two >= minimum."""
  v = int(value)
  if v < minimum or (v & (v - 1)) != 0:
    raise ValueError(f'{name} must be a power of two >= {minimum}, got {value!r}')
  return int(math.log2(v))


def resolutions(start: int, end: int) -> Sequence[int]:
  """Powers of two from ``start`` to ``end`` inclusive."""
  out, r = [], start
  while r <= end:
    out.append(r)
    r *= 2
  return out
