"""Every Python example in docs/ runs, and prints what its ``# comment`` says.

The examples of a page run in order as one script (a file, so frostline can
read the kernels' source). ``print(x)  # text`` lines check that the printed
text equals ``text``; comments starting with ``e.g.`` are illustrations.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(p for p in DOCS.glob("*.md") if "```python" in p.read_text())
_PRINT = re.compile(r"^(\s*)print\((.*)\)\s+#\s+(?!e\.g\.)(.+?)\s*$")
_PRELUDE = '''
def __expect(line, expected, *values):
    got = " ".join(str(v) for v in values)
    print(got)
    if got != expected:
        raise AssertionError(f"docs line {line}: printed {got!r}, the page says {expected!r}")
'''


def page_script(page: Path) -> str:
    lines, inside = [_PRELUDE], False
    for number, line in enumerate(page.read_text().splitlines(), 1):
        if line.startswith("```"):
            inside = line.strip() == "```python"
            continue
        if inside:
            match = _PRINT.match(line)
            if match:
                indent, args, expected = match.groups()
                line = f"{indent}__expect({number}, {expected!r}, {args})"
            lines.append(line)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_examples_run_and_print_what_they_say(page, tmp_path):
    script = tmp_path / f"doc_{page.stem}.py"
    script.write_text(page_script(page))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
