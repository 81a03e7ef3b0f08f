"""Repository hygiene: CI runs exactly the test command README.md gives."""
import os
import re

_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')


def _read(name):
  with open(os.path.join(_ROOT, name)) as f:
    return f.read()


def test_ci_runs_the_readme_test_command():
  readme = _read('README.md')
  section = readme[readme.index('## Tests'):]
  command = re.search(r'```bash\n(.+?)\n```', section, re.S).group(1).strip()
  ci_lines = [l.strip() for l in _read('.ci/run').splitlines()]
  assert command in ci_lines, (command, ci_lines)
