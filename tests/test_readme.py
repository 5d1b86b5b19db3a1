"""The README's quick start runs verbatim and tells the story it claims."""

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _quick_start_code():
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert match, "README has no python block under 'Quick start'"
    return match.group(1)


@pytest.mark.slow
def test_readme_quick_start_runs_verbatim():
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(_quick_start_code(), str(README), "exec"), {})
    printed = [int(i) for i in re.findall(r"\d+", output.getvalue())]
    # Three unseen items for a user who saw item 0, among them the
    # never-interacted item 5, reachable only through its text.
    assert len(printed) == 3 and 0 not in printed and 5 in printed
