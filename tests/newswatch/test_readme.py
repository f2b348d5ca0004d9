"""The README stays true: every setting is in its table, and CI runs the README's test command."""

from __future__ import annotations

from newswatch.settings import Settings
from tests.conftest import ROOT


def test_every_setting_is_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"`NEWSWATCH_{name.upper()}`" not in readme]
    assert missing == []


def _code_blocks(text: str) -> list[list[str]]:
    """The non-empty lines of each fenced code block, in order."""
    parts = text.split("```")[1::2]
    return [[line.strip() for line in block.splitlines()[1:] if line.strip()] for block in parts]


def test_ci_runs_the_readme_test_command() -> None:
    blocks = _code_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    # the README opens with the main job, then the test command, each a block of one command
    assert blocks[0] == ["bash scripts/run"]
    assert blocks[1] == ["bash scripts/test"]
    ci_lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    # .ci/run runs exactly that line (after strict mode and moving to the checkout)
    assert ci_lines[-1] == blocks[1][0]
    assert [line for line in ci_lines if "scripts/" in line] == ["bash scripts/test"]
