"""Content-Encoding decoding in bounded steps, so a compression bomb never inflates past the body cap.

httpx decodes each raw chunk in one call (``zlib``'s ``decompress(chunk)``, brotli's ``process(chunk)``):
64 KiB of a gzip bomb becomes ~64 MiB in memory before anyone can count it. Here every decoder yields
its output in pieces of about ``step`` bytes (zlib's ``max_length`` and ``unconsumed_tail``: at most
``step``; brotli's ``output_buffer_limit``: the buffer stops growing past it, up to ~1.5 ``step``, or
its 32 KiB minimum), so the reader can stop at the cap with about one step more held.

Same results as httpx's decoders for what we ask servers for (``Accept-Encoding: gzip, deflate, br``):
gzip (first member, as httpx), deflate (zlib-wrapped, or raw when the first chunk is not), brotli,
several encodings undone in reverse order, ``identity``; a damaged stream raises
``httpx.DecodingError`` as httpx would. ``decoders_for`` returns None for anything else (zstd, unknown
tokens), and the caller lets httpx decode as before.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from typing import Protocol

import httpx

try:  # httpx[brotli] installs it; without it a "br" body is left to httpx (which then refuses it)
    import brotli
except ImportError:  # pragma: no cover - the project depends on httpx[brotli]
    brotli = None

STEP = 64 * 1024


class Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def finish(self) -> Iterator[bytes]: ...


class _Zlib:
    """gzip (``wbits=MAX_WBITS | 16``) or deflate (zlib-wrapped, falling back to raw on the first chunk)."""

    def __init__(self, wbits: int, *, raw_fallback: bool, step: int) -> None:
        self._d = zlib.decompressobj(wbits)
        self._raw_fallback = raw_fallback
        self._first = True
        self._step = step

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        first, self._first = self._first, False
        try:
            out = self._d.decompress(data, self._step)
        except zlib.error as exc:
            if not (first and self._raw_fallback):
                raise httpx.DecodingError(str(exc)) from exc
            self._d = zlib.decompressobj(-zlib.MAX_WBITS)  # a raw deflate stream (httpx does the same)
            try:
                out = self._d.decompress(data, self._step)
            except zlib.error as exc2:
                raise httpx.DecodingError(str(exc2)) from exc2
        yield out
        try:
            while self._d.unconsumed_tail:
                yield self._d.decompress(self._d.unconsumed_tail, self._step)
        except zlib.error as exc:
            raise httpx.DecodingError(str(exc)) from exc

    def finish(self) -> Iterator[bytes]:
        try:
            # What is left is what inflate held back for a full output buffer: at most its window.
            yield self._d.flush()
        except zlib.error as exc:  # pragma: no cover - flush does not validate
            raise httpx.DecodingError(str(exc)) from exc


class _Brotli:
    def __init__(self, step: int) -> None:
        assert brotli is not None
        self._d = brotli.Decompressor()
        self._step = step

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        try:
            yield self._d.process(data, output_buffer_limit=self._step)
        except brotli.error as exc:
            raise httpx.DecodingError(str(exc)) from exc
        yield from self._drain()

    def _drain(self) -> Iterator[bytes]:
        # Output held back by the limit comes with empty input, until there is none.
        try:
            while out := self._d.process(b"", output_buffer_limit=self._step):
                yield out
        except brotli.error as exc:  # pragma: no cover - empty input does not fail
            raise httpx.DecodingError(str(exc)) from exc

    def finish(self) -> Iterator[bytes]:
        # As httpx with the 'brotli' package: no end-of-stream check, but nothing left behind.
        return self._drain()


def _brotli_is_bounded() -> bool:
    if brotli is None:
        return False
    try:
        brotli.Decompressor().process(b"", output_buffer_limit=STEP)
    except TypeError:  # brotli < 1.2: no output limit, let httpx decode
        return False
    return True


_BROTLI_BOUNDED = _brotli_is_bounded()


def decoders_for(content_encoding: str | None, step: int = STEP) -> list[Decoder] | None:
    """The decoders for a ``Content-Encoding`` value, in the order to apply them; None when one of
    its codings is not handled here."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    out: list[Decoder] = []
    for coding in reversed(codings):  # applied in the order listed, so undone from the last
        if coding == "identity":
            continue
        if coding in ("gzip", "x-gzip"):
            out.append(_Zlib(zlib.MAX_WBITS | 16, raw_fallback=False, step=step))
        elif coding == "deflate":
            out.append(_Zlib(zlib.MAX_WBITS, raw_fallback=True, step=step))
        elif coding == "br" and _BROTLI_BOUNDED:
            out.append(_Brotli(step))
        else:
            return None
    return out


def feed(decoders: Sequence[Decoder], data: bytes) -> Iterator[bytes]:
    """Decoded pieces of one raw chunk, through every decoder; each piece at most ``step`` bytes."""
    if not decoders:
        if data:
            yield data
        return
    head, rest = decoders[0], decoders[1:]
    for piece in head.feed(data):
        yield from feed(rest, piece)


def finish(decoders: Sequence[Decoder]) -> Iterator[bytes]:
    """What the decoders still hold at the end of the body, each flushed through the ones after it."""
    for i, decoder in enumerate(decoders):
        for piece in decoder.finish():
            yield from feed(decoders[i + 1 :], piece)
