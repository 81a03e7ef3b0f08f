"""Shared pytest setup: registers the `slow` marker (deselect with -m 'not slow');
points gan3d's file caches (evaluation baselines) at a fresh temporary
directory so that tests neither read nor write the user's ~/.cache."""
import os
import tempfile

os.environ['GAN3D_CACHE_DIR'] = tempfile.mkdtemp(prefix='gan3d_test_cache_')


def pytest_configure(config):
  config.addinivalue_line(
      'markers', 'slow: long-running check, not needed for a quick run')
