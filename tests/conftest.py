"""Shared pytest setup: registers the `slow` marker (deselect with -m 'not slow')."""


def pytest_configure(config):
  config.addinivalue_line(
      'markers', 'slow: long-running check, not needed for a quick run')
