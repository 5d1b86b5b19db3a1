"""The code blocks of the documentation pages that promise to run do run."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ._data import DATA_DIR

DOCS = Path(__file__).resolve().parent.parent / "docs"
# Pages whose ``.. code-block:: python`` blocks run in order in one namespace.
RUNNABLE_PAGES = ["metrics.rst"]


def _python_blocks(text):
    """The bodies of the page's ``.. code-block:: python`` directives."""
    blocks = []
    for match in re.finditer(
        r"^\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text, re.M
    ):
        lines = [line[4:] for line in match.group(1).splitlines()]
        blocks.append("\n".join(lines).strip() + "\n")
    return blocks


@pytest.mark.parametrize("page", RUNNABLE_PAGES)
def test_page_code_blocks_run(page):
    blocks = _python_blocks((DOCS / page).read_text(encoding="utf-8"))
    assert len(blocks) >= 5, f"{page}: found only {len(blocks)} code blocks"
    namespace = {}
    for number, block in enumerate(blocks, 1):
        try:
            exec(compile(block, f"{page}, block {number}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(
                f"{page}, code block {number} fails:\n{block}"
            ) from exc


@pytest.mark.slow
def test_custom_metrics_example_tunes_under_the_diversity_floor(tmp_path):
    """The gallery example runs end to end on the real data and its refit rule
    binds: the floor changes the chosen reg_E (figure written, no screen)."""
    example = DOCS.parent / "examples" / "plot_custom_metrics.py"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "MPLBACKEND": "Agg",
        "L3AE_DATA": str(DATA_DIR),
        "SKLEARN_L3AE_FIGURE": str(tmp_path / "figure.png"),
    }
    done = subprocess.run(
        [sys.executable, str(example)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    chosen = re.search(
        r"most valuable reg_E: (\S+); above the diversity floor: (\S+)", done.stdout
    )
    assert chosen, done.stdout
    assert float(chosen[2]) < float(chosen[1])  # the floor picks a smaller reg_E
    assert (tmp_path / "figure.png").stat().st_size > 10_000
