"""`render.indexing` (flat scatters under vmap) and `render.fusion` (values
computed once): each must equal the plain jax.numpy operation, unbatched,
under vmap (batched or shared operands), under nested vmap and jit, with
first and second derivatives (reverse mode) equal to those of the plain
operations. The whole renderer built on them is checked against the
reference renderer (test_render_reference.py) and finite differences
(test_render_grads.py).
"""

import chex
import jax
import jax.numpy as jnp
from jax import test_util as jtu
import numpy as np
import pytest

from gan3d.render import fusion
from gan3d.render import indexing


@pytest.fixture(autouse=True)
def _x64():
  with jax.enable_x64(True):
    yield


V, M = 7, 20


def _data(seed=0, batch=3, oob=False):
  rng = np.random.default_rng(seed)
  table = jnp.asarray(rng.normal(size=(batch, V, 2)))
  index = rng.integers(0, V, (batch, M))
  if oob:
    index[:, 0] = V + 3          # out of range: dropped by the scatters
    index[:, 1] = -2
  weights = jnp.asarray(rng.normal(size=(batch, M, 2)))
  return table, jnp.asarray(index, jnp.int32), weights


def _new(t, i, w):
  """Non-linear in t, so that second derivatives are not trivial. `take`
  needs in-range indices; the scatter drops out-of-range ones."""
  g = indexing.take(t, jnp.clip(i, 0, V - 1))
  s = indexing.scatter_add(V, i, jnp.sin(g) * w)
  return jnp.sum(jnp.cos(s) * t)


def _plain(t, i, w):
  """The same with jnp; the scatter drops indices outside [0, V)."""
  g = t[jnp.clip(i, 0, V - 1)]
  s = jnp.zeros((V, 2), t.dtype).at[i].add(jnp.sin(g) * w, mode='drop',
                                           wrap_negative_indices=False)
  return jnp.sum(jnp.cos(s) * t)


@pytest.mark.parametrize('oob', [False, True])
@pytest.mark.parametrize('how', ['single', 'vmap', 'vmap_shared_index',
                                 'vmap_shared_table', 'nested', 'jit'])
def test_take_and_scatter_add_equal_the_plain_ops(how, oob):
  t, i, w = _data(oob=oob)

  def run(f):
    g = lambda *a: (f(*a), jax.grad(f)(*a), jax.grad(f, 2)(*a))
    if how == 'single':
      return g(t[0], i[0], w[0])
    if how == 'vmap':
      return jax.vmap(g)(t, i, w)
    if how == 'vmap_shared_index':
      return jax.vmap(g, (0, None, 0))(t, i[0], w)
    if how == 'vmap_shared_table':
      return jax.vmap(g, (None, 0, 0))(t[0], i, w)
    if how == 'nested':
      return jax.vmap(jax.vmap(g, (None, 0, 0)), (0, None, None))(t, i, w)
    return jax.jit(jax.vmap(g))(t, i, w)

  for a, b in zip(run(_new), run(_plain)):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_second_derivatives_under_vmap():
  t, i, w = _data(1)
  jtu.check_grads(lambda t: jax.vmap(_new)(t, i, w), (t,), order=2,
                  modes=['rev'])
  hess = jax.vmap(jax.jacrev(jax.grad(_new)))(t, i, w)
  ref = jax.vmap(jax.jacrev(jax.grad(_plain)))(t, i, w)
  np.testing.assert_allclose(hess, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('op', ['min', 'max'])
@pytest.mark.parametrize('batched', [False, True])
def test_scatter_min_max_equal_the_plain_ops(op, batched):
  rng = np.random.default_rng(2)
  index = jnp.asarray(rng.integers(-2, V + 2, (3, 4, 5)), jnp.int32)  # 2-D, oob
  values = jnp.asarray(rng.normal(size=(3, 4, 5)))
  fill = jnp.inf if op == 'min' else -jnp.inf
  new = getattr(indexing, 'scatter_' + op)
  plain = lambda i, v: getattr(jnp.full((V,), fill).at[i], op)(
      v, mode='drop', wrap_negative_indices=False)
  if batched:
    got = jax.vmap(lambda i, v: new(V, i, v, fill))(index, values)
    want = jax.vmap(plain)(index, values)
  else:
    got, want = new(V, index[0], values[0], fill), plain(index[0], values[0])
  np.testing.assert_array_equal(got, want)
  # Integer values (triangle ids) and no gradient.
  ints = jax.vmap(lambda i: indexing.scatter_max(V, i, i, -1))(index)
  np.testing.assert_array_equal(
      ints, jax.vmap(lambda i: jnp.full((V,), -1, i.dtype).at[i].max(
          i, mode='drop', wrap_negative_indices=False))(index))
  g = jax.grad(lambda v: jnp.sum(new(V, index[0], v, 0.0)))(values[0])
  np.testing.assert_array_equal(g, 0.0)


def test_vmapped_scatter_is_one_flat_scatter_without_recompiles():
  """The batching rule folds the batch into the index: the compiled program
  holds scatters with no batch dimension (and tracing twice is not needed)."""
  _, i, w = _data(3)

  @jax.jit
  @chex.assert_max_traces(n=1)
  def f(i, w):
    return jax.vmap(lambda i, w: indexing.scatter_add(V, i, w))(i, w)

  out = f(i, w)
  f(i, w + 1.0)
  assert out.shape == (3, V, 2)
  hlo = jax.jit(jax.vmap(lambda i, w: indexing.scatter_add(V, i, w))).lower(i, w).as_text()
  # One scatter into the flattened [3 * V, 2] buffer, not a batched [3, V, 2] one.
  assert 'tensor<21x2xf64>' in hlo and 'operand_batching_dims' not in hlo


def test_store_rows_is_exact_and_has_no_gradient():
  rng = np.random.default_rng(4)
  x = jnp.asarray(rng.normal(size=(3, 5, 16)) * 10.0 ** rng.integers(-30, 30, (3, 5, 16)))
  np.testing.assert_array_equal(fusion.store_rows(x), x)
  np.testing.assert_array_equal(jax.vmap(fusion.store_rows)(x), x)
  np.testing.assert_array_equal(jax.grad(lambda x: jnp.sum(fusion.store_rows(x)))(x), 0.0)


def test_cotangent_barrier_is_the_identity_for_derivatives():
  rng = np.random.default_rng(5)
  a, b = (jnp.asarray(rng.normal(size=(4, 6))) for _ in range(2))

  def f(a, b, barrier):
    if barrier:
      a, b = fusion.cotangent_barrier(a, b)
    return jnp.sum(jnp.sin(a) * b ** 2)

  for argnums in (0, 1):
    np.testing.assert_allclose(jax.grad(f, argnums)(a, b, True),
                               jax.grad(f, argnums)(a, b, False), rtol=1e-14)
  np.testing.assert_allclose(jax.jacrev(jax.grad(lambda a: f(a, b, True)))(a),
                             jax.jacrev(jax.grad(lambda a: f(a, b, False)))(a),
                             rtol=1e-12)
  jtu.check_grads(lambda a, b: f(a, b, True), (a, b), order=2, modes=['rev'])
  out = jax.vmap(lambda a, b: fusion.cotangent_barrier(a, b))(a, b)
  np.testing.assert_array_equal(out[0], a)
