"""The README's quick start runs verbatim and tells the story it claims."""

import contextlib
import io
import os
import re
import subprocess
import sys
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


REPO = README.parent
SHARED = REPO.parent / "shared"
# Blocks that set the machine up: what `make` did before the tests run.
# Running them here would reinstall the package over the editable install
# (pip) or run the test suite inside itself (make).
SETUP_COMMANDS = ("pip install", "make ")


def _blocks():
    """``(language, code)`` of every fenced code block of the README."""
    text = README.read_text(encoding="utf-8")
    return re.findall(r"```(\w+)\n(.*?)```", text, flags=re.DOTALL)


def _runnable():
    blocks = []
    for language, code in _blocks():
        assert language in ("python", "bash"), f"a ```{language} block"
        if language == "bash" and any(cmd in code for cmd in SETUP_COMMANDS):
            continue
        blocks.append(pytest.param(language, code, id=f"{language}-{len(blocks)}"))
    return blocks


def test_every_block_is_python_or_setup_or_runnable():
    setup = [code for language, code in _blocks() if language == "bash"]
    assert len(_runnable()) + sum(
        any(cmd in code for cmd in SETUP_COMMANDS) for code in setup
    ) == len(_blocks())
    assert len(_runnable()) >= 4  # quick start, table, command line, tuning


@pytest.mark.slow
@pytest.mark.parametrize("language, code", _runnable())
def test_readme_block_runs_verbatim(language, code, tmp_path):
    """Each block as a newcomer runs it after the two commands: Python with
    the environment's interpreter from the clone, the shell block with
    `.venv` beside it and ../shared/data next to the clone."""
    workdir = tmp_path / "clone"
    workdir.mkdir()
    (tmp_path / "shared").symlink_to(SHARED)
    (workdir / ".venv").symlink_to(sys.prefix)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    command = (
        [sys.executable, "-c", code]
        if language == "python"
        else ["bash", "-e", "-c", code]
    )
    done = subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
