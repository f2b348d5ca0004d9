"""Shared pieces of the HTTP API: the app's dependencies, auth, error bodies, query-string guard.

The Elasticsearch client, the settings and the clock live in ``app.state`` (``install``), never in module
globals; endpoints get them through ``get_deps``. Tests build their own app with their own client.

Errors: every refusal is an ``ApiProblem`` rendered as ``{"detail": "<param>: <why>", "parameter":
"<param>", ...}``; pydantic validation errors get the same shape (422), so a client always learns which
parameter was wrong. Elasticsearch unreachable is 503 (``StorageUnavailable``).

Auth: writes need ``Authorization: Bearer <NEWSWATCH_API_TOKEN>`` (constant-time compare); without a
configured token writes are refused with 403 saying how to set one. Reads are open unless
``NEWSWATCH_API_OPEN_READS=false``.
"""

from __future__ import annotations

import hmac
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from elasticsearch import Elasticsearch
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newswatch.errors import StorageUnavailable
from newswatch.netguard import Resolver, system_resolver
from newswatch.settings import Settings

STATE_KEY = "newswatch_api"
MAX_QUERY_STRING_BYTES = 16_384
MAX_PARAM_CHARS = 512
PARAM_LIMITS: Mapping[str, int] = {"q": 2000}
# Control characters allowed (as white space) in these parameters only.
WHITESPACE_OK = frozenset({"q"})


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ApiDeps:
    """What the endpoints need: passed in by the app factory."""

    es: Elasticsearch
    settings: Settings
    clock: Callable[[], datetime] = field(default=_utcnow)
    resolver: Resolver = field(default=system_resolver)
    """Host name -> addresses, for the private-address guard of ``POST /feeds`` (tests pass their own)."""


def install(app: FastAPI, deps: ApiDeps) -> None:
    setattr(app.state, STATE_KEY, deps)


def get_deps(request: Request) -> ApiDeps:
    deps = getattr(request.app.state, STATE_KEY, None)
    if not isinstance(deps, ApiDeps):  # pragma: no cover - wiring bug
        raise RuntimeError("newswatch routes used without newswatch.routes.register_routes(app, ...)")
    return deps


# --- errors ----------------------------------------------------------------------------------------


class ApiProblem(Exception):
    """A refusal with a status, a message naming the culprit, and the parameter when there is one."""

    def __init__(
        self,
        status: int,
        message: str,
        parameter: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameter = parameter
        self.headers = dict(headers or {})
        self.extra = extra

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"detail": self.message}
        if self.parameter is not None:
            out["parameter"] = self.parameter
        out.update(self.extra)
        return out


def bad_param(parameter: str, why: str, status: int = 400, **extra: Any) -> ApiProblem:
    return ApiProblem(status, f"{parameter}: {why}", parameter, **extra)


def safe_name(name: str) -> str:
    """A parameter name fit for a message (hostile names are shown escaped and cut)."""
    shown = name if name.isprintable() else name.encode("unicode_escape").decode("ascii")
    return shown[:40] + ("…" if len(shown) > 40 else "")


async def _problem_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiProblem)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _storage_handler(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": f"Elasticsearch unavailable: {exc}"},
        status_code=503,
        headers={"Retry-After": "10"},
    )


def _loc_name(loc: Iterable[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "path", "header", "body", "cookie"):
        where, rest = parts[0], parts[1:]
        if where == "body":
            return ".".join(rest) or "body"
        return ".".join(rest[:1]) or where
    return ".".join(parts) or "request"


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    messages = []
    first: str | None = None
    for err in exc.errors():
        name = safe_name(_loc_name(err.get("loc", ())))
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        errors.append({"parameter": name, "message": msg, "type": str(err.get("type", ""))})
        messages.append(f"{name}: {msg}")
        first = first or name
    body: dict[str, Any] = {"detail": "; ".join(messages) or "invalid request", "errors": errors}
    if first is not None:
        body["parameter"] = first
    return JSONResponse(body, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiProblem, _problem_handler)
    app.add_exception_handler(StorageUnavailable, _storage_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)


# --- auth ------------------------------------------------------------------------------------------

bearer = HTTPBearer(
    auto_error=False,
    description="NEWSWATCH_API_TOKEN. Needed for writes; for reads too when NEWSWATCH_API_OPEN_READS=false.",
)

HOW_TO_SET = (
    "set NEWSWATCH_API_TOKEN (or NEWSWATCH_API_TOKEN_FILE pointing to a file holding it) "
    "and restart the service"
)


def check_token(settings: Settings, credentials: HTTPAuthorizationCredentials | None, what: str) -> None:
    token = settings.api_token.get_secret_value() if settings.api_token is not None else ""
    if not token:
        raise ApiProblem(403, f"{what} are disabled: no API token is configured; {HOW_TO_SET}")
    challenge = {"WWW-Authenticate": 'Bearer realm="newswatch"'}
    if credentials is None or not credentials.credentials:
        raise ApiProblem(
            401,
            f"Authorization: {what} need a bearer token (header 'Authorization: Bearer <token>')",
            "Authorization",
            challenge,
        )
    given = credentials.credentials.encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(given, token.encode("utf-8")):
        raise ApiProblem(
            401,
            "Authorization: invalid bearer token",
            "Authorization",
            {"WWW-Authenticate": 'Bearer realm="newswatch", error="invalid_token"'},
        )


Deps = Annotated[ApiDeps, Depends(get_deps)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def require_write(deps: Deps, credentials: Credentials) -> None:
    check_token(deps.settings, credentials, "writes")


def require_read(deps: Deps, credentials: Credentials) -> None:
    if deps.settings.api_open_reads:
        return
    check_token(deps.settings, credentials, "reads (NEWSWATCH_API_OPEN_READS=false)")


# --- query-string guard ----------------------------------------------------------------------------


def _bad_char(text: str, allow_whitespace: bool) -> tuple[int, str] | None:
    for i, ch in enumerate(text):
        if allow_whitespace and ch in "\t\n\r":
            continue
        if unicodedata.category(ch) in ("Cc", "Cs"):
            return i + 1, f"U+{ord(ch):04X}"
    return None


def check_text_param(name: str, text: str, limit: int | None = None) -> None:
    """Length and control characters of one (decoded) value; ``ApiProblem`` naming ``name``."""
    limit = limit if limit is not None else PARAM_LIMITS.get(name, MAX_PARAM_CHARS)
    if len(text) > limit:
        raise bad_param(name, f"too long ({len(text)} characters, max {limit})")
    bad = _bad_char(text, name in WHITESPACE_OK)
    if bad is not None:
        raise bad_param(name, f"control character {bad[1]} at position {bad[0]} is not allowed")


def _allowed_params(request: Request) -> set[str] | None:
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:  # pragma: no cover
        return None
    names: set[str] = set()
    stack = [dependant]
    while stack:
        dep = stack.pop()
        names.update(str(p.alias) for p in getattr(dep, "query_params", ()))
        stack.extend(getattr(dep, "dependencies", ()))
    return names


def guard_query_string(request: Request) -> None:
    """Refuse, naming the parameter: non-UTF-8 bytes, control characters, overlong or unknown parameters.

    Starlette would decode invalid UTF-8 into U+FFFD silently; here every value is percent-decoded to bytes
    and must be valid UTF-8.
    """
    raw: bytes = request.scope.get("query_string", b"")
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    if len(raw) > MAX_QUERY_STRING_BYTES:
        longest = max(pairs, key=lambda p: len(p[1]))[0] if pairs else "query string"
        name = safe_name(longest)
        raise ApiProblem(
            414,
            f"{name}: query string too long ({len(raw)} bytes, max {MAX_QUERY_STRING_BYTES})",
            name,
        )
    allowed = _allowed_params(request)
    for raw_name, raw_value in pairs:
        try:
            name = raw_name.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            raise bad_param(safe_name(raw_name), "parameter name is not valid UTF-8") from None
        if allowed is not None and name not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise bad_param(safe_name(name), f"unknown parameter (known: {known})")
        try:
            value = raw_value.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError as exc:
            raise bad_param(
                name, f"not valid UTF-8 (byte {exc.start + 1}); percent-encode the value as UTF-8"
            ) from None
        check_text_param(name, value)


# --- raw bytes in the request target ----------------------------------------------------------------


class PercentEncodeQuery:
    """ASGI middleware: percent-encode raw non-ASCII bytes of the query string (``curl 'q=défense'``).

    Starlette decodes the query string as Latin-1, so raw UTF-8 would arrive as mojibake; once encoded,
    ``guard_query_string`` checks the bytes are valid UTF-8 and Starlette decodes them correctly.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            qs: bytes = scope.get("query_string", b"")
            if any(b >= 0x80 for b in qs):
                encoded = b"".join(b"%%%02X" % b if b >= 0x80 else bytes((b,)) for b in qs)
                scope = {**scope, "query_string": encoded}
        await self.app(scope, receive, send)


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with 413, without buffering them.

    A declared ``Content-Length`` over the cap is refused before the body is read; a chunked body is
    counted as it arrives and refused once it passes the cap (the endpoint never sees it).
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> JSONResponse:
        return JSONResponse(
            {"detail": f"request body: larger than {self.max_bytes} bytes (NEWSWATCH_API_MAX_BODY_BYTES)"},
            status_code=413,
            headers={"Connection": "close"},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    await self._too_large()(scope, receive, send)
                    return
        seen = 0
        refused = False
        replaced = False

        async def counting_receive() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    refused = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # Once refused, whatever the app answers (FastAPI turns a failing body read into a 400)
            # is replaced by the 413.
            nonlocal replaced
            if not refused:
                await send(message)
            elif not replaced:
                replaced = True
                await self._too_large()(scope, receive, send)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            if not replaced:
                await self._too_large()(scope, receive, send)


class _BodyTooLarge(Exception):
    """Raised inside the app's ``receive`` when the body passes the cap."""
