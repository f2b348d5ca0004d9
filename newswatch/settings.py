"""Settings: one object, built once in ``main`` and passed down. No module-level globals.

Sources, highest first: keyword arguments, environment (``NEWSWATCH_`` prefix; ``NEWSWATCH_X_FILE``
reads secret ``x`` from a file), the YAML settings file (``NEWSWATCH_SETTINGS_FILE``, default
``config/settings.yaml`` if it exists), then the defaults below. Every variable is listed in the README.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    YamlConfigSettingsSource,
)

from newswatch.errors import ConfigError

SECRET_FIELDS = ("smtp_password", "api_token", "webhook_secret")
DEFAULT_LANGUAGES = ("en", "fr", "de", "pl", "ru", "uk")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NEWSWATCH_", extra="forbid", frozen=True, validate_default=True
    )

    # Elasticsearch
    elasticsearch_url: str = "http://127.0.0.1:9200"
    index_prefix: str = Field("newswatch", pattern=r"^[a-z0-9][a-z0-9_-]*$")
    es_timeout_s: float = Field(30.0, gt=0)
    bulk_chunk_size: int = Field(500, ge=1, le=10_000)

    # Files
    config_dir: Path = Path("config")
    spool_dir: Path = Path(".newswatch/spool")
    spool_max_bytes: int = Field(512 * 1024 * 1024, ge=1024)

    # Enrichment
    languages: Annotated[tuple[str, ...], NoDecode] = DEFAULT_LANGUAGES  # env: en,fr,de

    # Fetching
    user_agent: str = "newswatch/0.1 (+https://github.com/newswatch/newswatch)"
    contact_url: str = "https://github.com/newswatch/newswatch"
    fetch_concurrency: int = Field(64, ge=1, le=10_000)
    per_host_concurrency: int = Field(2, ge=1, le=100)
    per_host_delay_s: float = Field(1.0, ge=0)
    connect_timeout_s: float = Field(10.0, gt=0)
    read_timeout_s: float = Field(20.0, gt=0)
    request_timeout_s: float = Field(60.0, gt=0)
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    max_redirects: int = Field(5, ge=0, le=30)
    default_interval_s: int = Field(900, ge=60)
    min_interval_s: int = Field(300, ge=1)
    max_interval_s: int = Field(86_400, ge=60)
    error_backoff_base_s: int = Field(60, ge=1)
    error_backoff_cap_s: int = Field(6 * 3600, ge=60)
    jitter_fraction: float = Field(0.1, ge=0, lt=1)
    unhealthy_after_s: int = Field(24 * 3600, ge=60)
    allow_private_feeds: bool = False
    # Full text (feeds with full_text: true): article pages fetched per feed update
    full_text_concurrency: int = Field(4, ge=1, le=64)  # pages in flight at once, per feed
    full_text_max_pages: int = Field(50, ge=0)  # pages per feed update; the rest keep the feed's text
    full_text_budget_s: float = Field(120.0, gt=0)  # time for all pages of one feed update
    # Service (newswatch run): poll loop, leases shared by workers, shutdown
    poll_interval_s: float = Field(5.0, gt=0)
    lease_s: int = Field(300, ge=5)
    shutdown_grace_s: float = Field(10.0, ge=0)
    worker_id: str | None = None  # default: host-pid

    # Alerts
    alert_interval_s: int = Field(30, ge=1)
    alert_safety_margin_s: float = Field(5.0, ge=0)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_from: str = "newswatch@localhost"
    webhook_secret: SecretStr | None = None
    delivery_max_attempts: int = Field(8, ge=1)
    delivery_backoff_base_s: float = Field(5.0, gt=0)
    delivery_backoff_cap_s: float = Field(3600.0, gt=0)
    delivery_timeout_s: float = Field(10.0, gt=0)

    # HTTP API
    api_host: str = "127.0.0.1"
    api_port: int = Field(8080, ge=1, le=65535)
    api_token: SecretStr | None = None
    api_open_reads: bool = True
    api_max_body_bytes: int = Field(1_048_576, ge=1024)

    # Logging
    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON when stderr is not a terminal

    @field_validator("languages", mode="before")
    @classmethod
    def _split_languages(cls, value: Any) -> Any:
        if isinstance(value, str):  # "en,fr,de" or a JSON list
            value = json.loads(value) if value.lstrip().startswith("[") else value.split(",")
            value = [str(v).strip() for v in value if str(v).strip()]
        return value

    @field_validator("elasticsearch_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_file = os.environ.get("NEWSWATCH_SETTINGS_FILE", "config/settings.yaml")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if Path(yaml_file).is_file():
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file))
        return tuple(sources)

    def index_name(self, kind: str) -> str:
        """The alias for one kind of index: ``articles``, ``feeds``, ``alerts-log``, ..."""
        return f"{self.index_prefix}-{kind}"


def _secrets_from_files(environ: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in SECRET_FIELDS:
        path = environ.get(f"NEWSWATCH_{name.upper()}_FILE")
        if path:
            try:
                out[name] = Path(path).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"NEWSWATCH_{name.upper()}_FILE: cannot read {path}: {exc}") from exc
    return out


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once; invalid values raise ``ConfigError`` naming the variable."""
    values = _secrets_from_files(dict(os.environ))
    values.update(overrides)
    try:
        return Settings(**values)
    except SettingsError as exc:  # a value in the environment that is not even parseable
        raise ConfigError(f"invalid settings: {exc}") from None
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "settings"
            var = f"NEWSWATCH_{loc.upper()}" if err["loc"] else loc
            lines.append(f"{var}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("invalid settings:\n  " + "\n  ".join(lines)) from None
