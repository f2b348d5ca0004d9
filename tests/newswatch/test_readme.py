"""The README stays true: every setting is in its table, and CI runs the README's test command."""

from __future__ import annotations

from newswatch.settings import Settings
from tests.conftest import ROOT


def test_every_setting_is_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"`NEWSWATCH_{name.upper()}`" not in readme]
    assert missing == []


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```")[1]
    assert "bash scripts/test" in first_block and "bash scripts/run" in first_block
    assert "bash scripts/test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
