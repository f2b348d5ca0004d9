from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.fulltext import extract_main_text
from tests.conftest import FIXTURES

PAGE = FIXTURES / "fulltext" / "article-fr.html"


@pytest.mark.parametrize("as_bytes", [True, False])
def test_extracts_main_text_without_boilerplate(as_bytes: bool) -> None:
    raw = PAGE.read_bytes()
    out = extract_main_text(raw if as_bytes else raw.decode("utf-8"), "https://journal.example/defense")
    assert out is not None
    assert "défense anti-aérienne" in out.text
    assert "fonds fiduciaire" in out.text
    for boilerplate in ("S'abonner", "Les plus lus", "Tous droits réservés", "Mentions légales", "Football"):
        assert boilerplate not in out.text
    assert out.language == "fr-FR"
    assert out.published_at is not None
    assert out.published_at.date() == datetime(2024, 11, 20, tzinfo=UTC).date()


@pytest.mark.parametrize(
    "html",
    [
        b"",
        "",
        "<html><body><nav>Home | About</nav></body></html>",
        b"\x00\x01\x02 not html at all",
        "<html><body><p>Too short.</p></body></html>",
    ],
)
def test_no_main_text_gives_none(html: bytes | str) -> None:
    assert extract_main_text(html, "https://journal.example/empty") is None
