"""Shared pytest setup: registers the `slow` marker (deselect with -m 'not slow');
points gan3d's file caches (evaluation baselines) at a fresh temporary
directory so that tests neither read nor write the user's ~/.cache.

When slow tests are deselected (the default suite, ``-m "not slow"``), XLA
compiles with its LLVM back-end optimisations off
(``JAX_DISABLE_MOST_OPTIMIZATIONS=1``: ``xla_backend_optimization_level=0``,
no expensive LLVM passes; the HLO passes, fusion included, still run, so the
programs tested are the ones users run, only their machine code is less
optimised). Compilation is most of the default suite's time on a 2-core CPU;
this cuts the suite by about a quarter. The slow tests, which train for
minutes, keep full optimisation. ``GAN3D_TEST_FULL_OPT=1`` turns the switch
off. It goes into the environment so that the launcher tests' subprocesses
inherit it.
"""
import os
import tempfile

os.environ['GAN3D_CACHE_DIR'] = tempfile.mkdtemp(prefix='gan3d_test_cache_')


def pytest_configure(config):
  config.addinivalue_line(
      'markers', 'slow: long-running check, not needed for a quick run')
  markexpr = (config.getoption('markexpr', '') or '').replace(' ', '')
  if markexpr == 'notslow' and os.environ.get('GAN3D_TEST_FULL_OPT', '0') != '1':
    os.environ['JAX_DISABLE_MOST_OPTIMIZATIONS'] = '1'
    import jax  # pylint: disable=g-import-not-at-top
    jax.config.update('jax_disable_most_optimizations', True)
