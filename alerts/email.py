"""Email delivery over SMTP (aiosmtplib): multipart text + HTML, STARTTLS or implicit TLS, auth.

Settings: ``NEWSWATCH_SMTP_HOST``, ``_PORT``, ``_USERNAME``, ``_PASSWORD`` (or ``_PASSWORD_FILE``),
``_STARTTLS``, ``_TLS``, ``_FROM``. Outcome: a 4xx SMTP reply, a timeout or a connection failure is
retryable; a 5xx reply (bad recipient, refused message, auth failure) is final.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import aiosmtplib

from alerts.render import email_html, email_subject, email_text
from newswatch.errors import DeliveryError
from newswatch.settings import Settings


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    tls: bool = False
    sender: str = "newswatch@localhost"
    timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
            tls=settings.smtp_tls,
            sender=settings.smtp_from,
        )


def build_email(
    msg: dict[str, Any], sender: str, recipients: Sequence[str], delivery_id: str
) -> EmailMessage:
    """The multipart/alternative message; ``Message-ID`` derives from the delivery id (retries reuse it)."""
    from datetime import datetime

    em = EmailMessage()
    em["Subject"] = email_subject(msg)
    em["From"] = sender
    em["To"] = ", ".join(recipients)
    domain = sender.rsplit("@", 1)[-1] or "localhost"
    em["Message-ID"] = f"<{delivery_id}@{domain}>" if delivery_id else make_msgid(domain=domain)
    em["Date"] = format_datetime(datetime.fromisoformat(msg["created_at"].replace("Z", "+00:00")))
    em["X-Newswatch-Rule"] = msg["rule"]["id"]
    em["X-Newswatch-Delivery"] = delivery_id
    em.set_content(email_text(msg))
    em.add_alternative(email_html(msg), subtype="html")
    return em


async def send_email(
    cfg: SmtpConfig, msg: dict[str, Any], recipients: Sequence[str], delivery_id: str
) -> None:
    """Send, or raise ``DeliveryError`` (``retryable`` as described above)."""
    em = build_email(msg, cfg.sender, recipients, delivery_id)
    where = f"SMTP {cfg.host}:{cfg.port}"
    try:
        await aiosmtplib.send(
            em,
            sender=cfg.sender,
            recipients=list(recipients),
            hostname=cfg.host,
            port=cfg.port,
            username=cfg.username,
            password=cfg.password,
            use_tls=cfg.tls,
            start_tls=True if cfg.starttls else (None if cfg.tls else False),
            timeout=cfg.timeout_s,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        retryable = any(400 <= c < 500 for c in codes)
        raise DeliveryError(f"{where} refused the recipients: {exc}", retryable) from exc
    except aiosmtplib.SMTPResponseException as exc:
        retryable = 400 <= exc.code < 500
        raise DeliveryError(f"{where} refused the message: {exc.code} {exc.message}", retryable) from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise DeliveryError(f"{where}: {exc.__class__.__name__}: {exc}", True) from exc
