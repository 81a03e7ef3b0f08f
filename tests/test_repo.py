"""Repository hygiene: CI runs exactly the test command README.md gives;
the documentation's links and pictures resolve."""
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


_DOCS = ('README.md', 'docs/synthetic_study.md', 'docs/interfaces.md')


def _anchors(text):
  """GitHub's anchors of a markdown file's headings."""
  out = set()
  for line in text.splitlines():
    m = re.match(r'#+ (.*)', line)
    if m:
      out.add(re.sub(r'[^\w\- ]', '', m.group(1).lower()).replace(' ', '-'))
  return out


def test_doc_links_and_images_resolve():
  """Every relative link (file and #anchor) and picture in the docs exists:
  sections move between README.md and docs/ (2026-11-29)."""
  bad = []
  for name in _DOCS:
    text, base = _read(name), os.path.dirname(name)
    for target in re.findall(r'\]\(([^)\s]+)\)', text):
      if re.match(r'[a-z]+://', target):
        continue
      path, _, anchor = target.partition('#')
      file = os.path.normpath(os.path.join(base, path)) if path else name
      if not os.path.exists(os.path.join(_ROOT, file)):
        bad.append(f'{name}: {target} (no file)')
      elif anchor and file.endswith('.md') and anchor not in _anchors(_read(file)):
        bad.append(f'{name}: {target} (no heading)')
  assert not bad, bad
