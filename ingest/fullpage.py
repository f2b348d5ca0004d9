"""Full text for ``full_text: true`` feeds: fetch each new or changed entry's page, extract, merge.

* ``merge_full_text`` (pure, table-tested): the page's main text replaces ``content``; the page's declared
  language fills ``language`` only when neither the article nor the feed has one; the page's date fills
  ``published_at`` only when the feed gave none (``date_flags=("page",)`` says where it came from) and
  is not in the future. ``content_hash`` stays the hash of the *feed* entry, so change detection keeps
  comparing like with like and an unchanged entry never costs another page fetch.
* ``page_text`` (pure CPU): an HTML ``PageOutcome`` to ``FullText`` (trafilatura) or the reason there is
  none.
* ``fetch_full_texts`` (I/O): the pages of a batch of articles with the polite fetcher
  (``ingest.fetch.fetch_page``: shared client, per-host limiter, caps), at most ``concurrency`` at once
  per feed, at most ``max_pages`` per call, all within ``budget_s``. Never raises for a page's problem:
  each article gets a ``PageResult`` whose ``full`` is ``None`` (fall back to the feed's text) with a
  ``reason`` when anything went wrong.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from ingest.fetch import FetchLimits, HostLimiter, PageOutcome, fetch_page
from ingest.fulltext import FullText, extract_main_text
from ingest.model import Article

PAGE_DATE_FLAG = "page"
"""``date_flags`` value of an article whose ``published_at`` comes from its page, not its feed."""
PAGE_DATE_TOLERANCE = timedelta(minutes=10)
"""A page date later than ``fetched_at`` plus this is not believed."""
UNDETERMINED = frozenset({"", "und", "mul", "zxx", "mis"})


def page_language(declared: str | None) -> str | None:
    """The primary subtag of a declared language tag, lower-cased (``"fr-FR"`` -> ``"fr"``), or ``None``
    for nothing usable (empty, ``und``, not 2-3 letters)."""
    if not declared:
        return None
    primary = declared.strip().replace("_", "-").split("-", 1)[0].lower()
    if not (2 <= len(primary) <= 3 and primary.isascii() and primary.isalpha()) or primary in UNDETERMINED:
        return None
    return primary


def merge_full_text(article: Article, full: FullText, *, feed_language: str | None = None) -> Article:
    """``article`` with the page's main text as ``content`` (empty when it equals the summary, as
    ``ingest.normalise`` does), and the page's language/date where the feed had none (see the module
    docstring). ``feed_language``: the feed's own language (configured hint or the feed document's)."""
    content = full.text.strip()
    if content == article.summary.strip():
        content = ""
    changes: dict[str, object] = {"content": content}
    if article.language in UNDETERMINED and not page_language(feed_language):
        language = page_language(full.language)
        if language:
            changes["language"] = language
    page_date = full.published_at
    if article.published_at is None and page_date and page_date <= article.fetched_at + PAGE_DATE_TOLERANCE:
        changes["published_at"] = page_date
        changes["date_flags"] = (PAGE_DATE_FLAG,)
    return dataclasses.replace(article, **changes)  # type: ignore[arg-type]


def decoded(page: PageOutcome) -> bytes | str:
    """The page body as text when the server named a charset we know, else the bytes (trafilatura then
    reads ``<meta charset>`` itself)."""
    body = page.body or b""
    charset = page.charset
    if charset:
        try:
            return body.decode(charset, "replace")
        except LookupError:
            pass
    return body


def page_text(page: PageOutcome, *, min_chars: int = 80) -> tuple[FullText | None, str | None]:
    """``(FullText, None)`` or ``(None, reason)`` for one fetched page."""
    if page.status != "ok" or page.body is None:
        return None, page.error or f"{page.url}: no page"
    full = extract_main_text(decoded(page), page.final_url, min_chars=min_chars)
    if full is None:
        return None, f"{page.final_url}: no main text found"
    return full, None


@dataclass(frozen=True, slots=True)
class PageResult:
    article_id: str
    full: FullText | None
    reason: str | None = None
    """Why there is no full text (``None`` when there is)."""
    bytes_read: int = 0
    fetched: bool = False
    """Whether a request was made for this article's page."""


async def fetch_full_texts(
    client: httpx.AsyncClient,
    articles: Sequence[Article],
    limits: FetchLimits,
    limiter: HostLimiter,
    *,
    now: datetime,
    concurrency: int = 4,
    max_pages: int = 50,
    budget_s: float = 120.0,
    min_chars: int = 80,
) -> list[PageResult]:
    """One ``PageResult`` per article, in order. Pages are fetched with ``fetch_page`` and extracted in a
    worker thread; articles without an http(s) link, beyond ``max_pages`` or left when ``budget_s`` runs
    out fall back with a reason. Cancellation propagates."""
    semaphore = asyncio.Semaphore(max(1, concurrency))
    deadline = time.monotonic() + budget_s

    async def one(index: int, article: Article) -> PageResult:
        url = article.url
        if not url.startswith(("http://", "https://")):
            return PageResult(article.id, None, f"{article.id}: no http(s) link to fetch")
        if index >= max_pages:
            return PageResult(article.id, None, f"{url}: over the {max_pages}-page limit per feed update")
        async with semaphore:
            left = deadline - time.monotonic()
            if left <= 0:
                return PageResult(article.id, None, f"{url}: full-text time budget ({budget_s:g}s) used up")
            try:
                async with asyncio.timeout(left):
                    page = await fetch_page(client, url, limits, limiter, now=now)
                    full, reason = await asyncio.to_thread(page_text, page, min_chars=min_chars)
            except TimeoutError:
                return PageResult(
                    article.id, None, f"{url}: full-text time budget ({budget_s:g}s) used up", fetched=True
                )
        return PageResult(article.id, full, reason, page.bytes_read, fetched=True)

    return list(await asyncio.gather(*(one(i, a) for i, a in enumerate(articles))))
