"""Bounded Content-Encoding decoding: same bytes as httpx's decoders, never more than a step at a time."""

from __future__ import annotations

import gzip
import random
import tracemalloc
import zlib
from collections.abc import Iterator

import brotli
import httpx
import pytest
from httpx._decoders import BrotliDecoder, DeflateDecoder, GZipDecoder, MultiDecoder

from ingest import decode
from tests.feedserver import gzip_bomb


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


ENCODERS = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
}


def _httpx_decoder(coding: str) -> httpx._decoders.ContentDecoder:
    return {"gzip": GZipDecoder, "x-gzip": GZipDecoder, "deflate": DeflateDecoder, "br": BrotliDecoder}[
        coding
    ]()


def _chunks(data: bytes, rng: random.Random) -> Iterator[bytes]:
    i = 0
    while i < len(data):
        n = rng.choice([1, 7, 100, 4096, 65536])
        yield data[i : i + n]
        i += n


def _ours(header: str, chunks: list[bytes], step: int = decode.STEP) -> tuple[bytes, int]:
    decoders = decode.decoders_for(header, step)
    assert decoders is not None
    pieces = [p for c in chunks for p in decode.feed(decoders, c)] + list(decode.finish(decoders))
    return b"".join(pieces), max((len(p) for p in pieces), default=0)


def _theirs(header: str, chunks: list[bytes]) -> bytes:
    codings = [c.strip() for c in header.split(",") if c.strip() and c.strip() != "identity"]
    children = [_httpx_decoder(c) for c in codings]
    decoder = MultiDecoder(children) if len(children) > 1 else children[0]
    return b"".join(decoder.decode(c) for c in chunks) + decoder.flush()


def _bound(header: str, step: int) -> int:
    """The largest piece: zlib stops at ``step``; brotli's buffer stops growing past it (~1.5x, 32 KiB
    at least)."""
    return max(2 * step, 64 * 1024) if "br" in header else step


def _payload(rng: random.Random) -> bytes:
    words = [b"feed", b"item", b"\xd0\x9d\xd0\x90\xd0\xa2\xd0\x9e", b"<title>", b"\n", b" ", b"\x00\xff"]
    return b"".join(rng.choice(words) for _ in range(rng.randint(0, 60_000)))


@pytest.mark.parametrize(
    "header", ["gzip", "x-gzip", "deflate", "br", "gzip, br", "br, deflate", "deflate, gzip"]
)
def test_same_bytes_as_httpx_in_any_chunking(header: str) -> None:
    rng = random.Random(header)
    for _ in range(12):
        data = _payload(rng)
        encoded = data
        for coding in [c.strip() for c in header.split(",")]:
            encoded = ENCODERS[coding](encoded)
        chunks = list(_chunks(encoded, rng))
        ours, biggest = _ours(header, chunks, step=1000)
        assert ours == data == _theirs(header, chunks)
        assert biggest <= _bound(header, 1000)


def test_raw_deflate_is_read_like_httpx() -> None:
    data = b"a raw deflate stream, no zlib header " * 500
    chunks = list(_chunks(_raw_deflate(data), random.Random(1)))
    assert _ours("deflate", chunks)[0] == data == _theirs("deflate", chunks)


def test_identity_and_no_encoding_pass_bytes_through() -> None:
    assert decode.decoders_for(None) == []
    assert decode.decoders_for("identity") == []
    assert _ours("identity", [b"ab", b"", b"c"])[0] == b"abc"


@pytest.mark.parametrize("header", ["zstd", "compress", "gzip, zstd", "bogus"])
def test_codings_we_do_not_step_are_left_to_httpx(header: str) -> None:
    assert decode.decoders_for(header) is None


@pytest.mark.parametrize(
    ("header", "body"),
    [
        ("gzip", b"\x1f\x8b\x08\x00 this is not deflate data at all" * 3),
        ("deflate", b"neither zlib nor raw deflate \xff\xff\xff" * 3),
        ("br", b"\xff\xff\xff\xff not brotli at all" * 3),
    ],
)
def test_damaged_streams_raise_decoding_error(header: str, body: bytes) -> None:
    with pytest.raises(httpx.DecodingError):
        _ours(header, [body])
    with pytest.raises(httpx.DecodingError):
        _theirs(header, [body])


@pytest.mark.parametrize("coding", ["gzip", "br"])
def test_a_bomb_is_read_a_step_at_a_time(coding: str) -> None:
    if coding == "gzip":
        bomb = gzip_bomb(256 * 1024 * 1024)
    else:
        bomb = brotli.compress(b"\0" * (64 * 1024 * 1024), quality=5)
    assert len(bomb) < 512 * 1024  # small on the wire
    decoders = decode.decoders_for(coding)
    assert decoders is not None
    cap = 1024 * 1024
    tracemalloc.start()
    try:
        size = 0
        biggest = 0
        for raw in (bomb[i : i + 65536] for i in range(0, len(bomb), 65536)):
            for piece in decode.feed(decoders, raw):
                size += len(piece)
                biggest = max(biggest, len(piece))
                if size > cap:
                    break
            if size > cap:
                break
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size > cap  # it was stopped at the cap ...
    assert biggest <= _bound(coding, decode.STEP)  # ... a step at a time ...
    assert (
        peak < 4 * 1024 * 1024
    )  # ... and never held more than a few steps (httpx: the whole chunk's output)
