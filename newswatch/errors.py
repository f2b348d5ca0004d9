"""The one exception tree of newswatch.

Library errors (httpx, elasticsearch, yaml, feedparser, smtp) are converted into these at the
boundary, with the culprit (feed URL, file and line, rule name, ...) in the message.

    NewswatchError
    ├── ConfigError            invalid settings or config/*.yaml (names file, entry, field, reason)
    │   └── RuleError          an invalid topic or alert rule (names the rule, line and reason)
    ├── SourceError            a feed source could not be read (names the source)
    │   ├── FetchError         HTTP/network failure while fetching a URL
    │   │   ├── BodyTooLarge   the response went past the body-size cap
    │   │   └── RedirectError  too many redirects, or a redirect loop
    │   └── ParseError         the bytes are not a feed we could read
    ├── QueryError             a search query that cannot be parsed (names the position)
    ├── IndexingError          Elasticsearch refused documents (per-document reasons attached)
    ├── StorageUnavailable     Elasticsearch cannot be reached
    └── DeliveryError          an alert could not be delivered (email or webhook)
"""

from __future__ import annotations


class NewswatchError(Exception):
    """Root of every error newswatch raises on purpose."""


class ConfigError(NewswatchError):
    """Invalid settings or configuration file."""


class RuleError(ConfigError):
    """An invalid topic or alert rule."""


class SourceError(NewswatchError):
    """A feed source could not be read. ``source`` names it."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class FetchError(SourceError):
    """HTTP or network failure while fetching a URL."""

    def __init__(self, source: str, reason: str, status_code: int | None = None) -> None:
        super().__init__(source, reason)
        self.status_code = status_code


class BodyTooLarge(FetchError):
    """The response body went past the configured cap."""


class RedirectError(FetchError):
    """Too many redirects, or a redirect loop."""


class ParseError(SourceError):
    """The bytes are not a feed that could be read."""


class QueryError(NewswatchError):
    """A search query that cannot be parsed."""


class IndexingError(NewswatchError):
    """Elasticsearch refused some documents; ``errors`` holds one item per refused document."""

    def __init__(self, message: str, errors: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class StorageUnavailable(NewswatchError):
    """Elasticsearch cannot be reached."""


class DeliveryError(NewswatchError):
    """An alert could not be delivered. ``retryable`` says whether to try again."""

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable
