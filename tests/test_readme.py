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
    recommended, explained = output.getvalue().splitlines()[:2]
    titles = re.findall(r"'([^']+)'", recommended)
    # Three unseen items for a user who saw Star Wars, among them Spaceballs,
    # which no one has seen: reachable only through its text.
    assert len(titles) == 3 and "Star Wars" not in titles and "Spaceballs" in titles
    # ...because of Star Wars, the only item of that user's history.
    assert re.findall(r"'([^'<]+)'", explained) == ["Star Wars"]
