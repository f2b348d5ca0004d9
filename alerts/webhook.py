"""Webhook delivery: a signed POST of the ``newswatch.alert/v1`` JSON, and the helpers receivers use.

Signature (``docs/webhook.md``)::

    X-Newswatch-Timestamp: <unix seconds>
    X-Newswatch-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>
    Idempotency-Key: <outbox delivery id>      (the same on every retry of one delivery)

Outcome: 2xx delivered; 429 and 5xx retryable (``Retry-After`` honoured); timeouts and connection errors
retryable; any other status is final (``retryable=False``), the delivery is dead-lettered.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from newswatch.errors import DeliveryError

SIGNATURE_HEADER = "X-Newswatch-Signature"
TIMESTAMP_HEADER = "X-Newswatch-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
DEFAULT_TOLERANCE_S = 300
MAX_RETRY_AFTER_S = 24 * 3600


class WebhookError(DeliveryError):
    """A failed POST. ``status`` (None for network errors) and ``retry_after_s`` (from the response)."""

    def __init__(
        self, message: str, retryable: bool, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, retryable)
        self.status = status
        self.retry_after_s = retry_after_s


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: datetime,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """For receivers: the signature is right and the timestamp within ``tolerance_s`` of ``now``."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now.timestamp() - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature or "")


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), MAX_RETRY_AFTER_S))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, min((when - now).total_seconds(), MAX_RETRY_AFTER_S))


def classify(status: int, headers: Mapping[str, str], now: datetime, url: str) -> WebhookError | None:
    """None for 2xx; otherwise the error to raise (retryable or not)."""
    if 200 <= status < 300:
        return None
    retry_after = parse_retry_after(headers.get("retry-after"), now)
    if status == 429 or status >= 500:
        return WebhookError(f"webhook {url} answered {status}", True, status, retry_after)
    return WebhookError(f"webhook {url} answered {status} (not retried)", False, status, None)


async def post(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    secret: str | None,
    delivery_id: str,
    now: datetime,
    timeout_s: float = 10.0,
) -> int:
    """POST ``body`` signed with ``secret``; returns the status or raises ``WebhookError``."""
    ts = int(now.timestamp())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        TIMESTAMP_HEADER: str(ts),
        IDEMPOTENCY_HEADER: delivery_id,
        "User-Agent": "newswatch-alerts/1",
    }
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, ts, body)
    try:
        resp = await client.post(url, content=body, headers=headers, timeout=timeout_s)
    except httpx.TimeoutException as exc:
        raise WebhookError(f"webhook {url}: timed out ({exc.__class__.__name__})", True) from exc
    except httpx.HTTPError as exc:
        raise WebhookError(f"webhook {url}: {exc.__class__.__name__}: {exc}", True) from exc
    err = classify(resp.status_code, resp.headers, now, url)
    if err is not None:
        raise err
    return resp.status_code
