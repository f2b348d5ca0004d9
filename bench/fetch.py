"""Fetch benchmark: poll N feeds once on 127.0.0.1 with ``fetch_feed`` and with a bare httpx loop.

    python bench/fetch.py [--feeds 10000] [--concurrency 100] [--rounds 1] [--profile]

A canned-response server runs in its own process (raw asyncio protocol, keep-alive, no framework), so
it does not share the client's core accounting: half the feeds are asked with the ETag they have and
answer 304, the other half answer 200 with a ~3 KB RSS document (10 items, titles unique per feed).

Each client run happens in a fresh child process, so its CPU time (``time.process_time``) and peak
memory (``ru_maxrss``) are its own:

* ``ours``: ``fetch_feed`` (conditional GET, manual redirects, streamed capped body, blake2b hash,
  host limiter, outcome) for every feed, at most ``--concurrency`` at once, through ``build_client``.
* ``bare``: the same client from ``build_client`` and the same request headers, just
  ``await client.get(url)`` and ``response.content``: the floor httpx itself costs.

All feeds live on one host, so the per-host limits are relaxed for the bench (per-host concurrency =
global concurrency, no spacing): with production limits (2 per host, 1 s apart) 10,000 feeds on one
host would take 10,000 s by design, which would measure the politeness, not the fetcher.

The last line is ``feeds_per_s=... bare_feeds_per_s=... overhead_vs_bare=... peak_rss_mb=...`` where
``overhead_vs_bare`` is CPU per request of ours divided by that of bare (the client is CPU-bound on one
core, so this is also the throughput ratio, minus noise from the shared machine).

At ``--concurrency 100`` both clients are dominated by httpcore's pool bookkeeping, which is
O(connections²) per request event (see docs/decisions.md, "httpx's connection pool"), and the ratio
swings with how many connections happen to be idle at each pool pass; ``--concurrency 10`` measures
our own overhead over bare httpx. ``--profile`` prints where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import multiprocessing as mp
import pstats
import resource
import socket
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from ingest.fetch import FetchLimits, HostLimiter, build_client, fetch_feed
from ingest.schedule import FeedState

# --------------------------------------------------------------------------------------------- server


def _rss(i: int) -> bytes:
    items = "".join(
        f"<item><title>Feed {i} story {k}</title><link>http://127.0.0.1/{i}/{k}</link>"
        f"<guid>http://127.0.0.1/{i}/{k}</guid><pubDate>Sun, 01 Jun 2025 12:{k:02d}:00 GMT</pubDate>"
        f"<description>Story {k} of feed {i}: something happened somewhere, here is a sentence "
        f"or two about it so the body has a realistic size.</description></item>"
        for k in range(10)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Bench feed {i}</title><link>http://127.0.0.1/{i}</link><description>bench</description>"
        f"{items}</channel></rss>"
    ).encode()


class _Canned(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.buf = self.buf[:end], self.buf[end + 4 :]
            lines = head.split(b"\r\n")
            path = lines[0].split(b" ")[1]
            inm = b""
            for line in lines[1:]:
                if line[:14].lower() == b"if-none-match:":
                    inm = line[14:].strip()
            i = int(path.rsplit(b"/", 1)[1])
            etag = b'"%d"' % i
            assert self.transport is not None
            if inm == etag:
                self.transport.write(
                    b"HTTP/1.1 304 Not Modified\r\nETag: " + etag + b"\r\nContent-Length: 0\r\n\r\n"
                )
            else:
                body = _rss(i)
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=utf-8\r\nETag: "
                    + etag
                    + b"\r\nContent-Length: %d\r\n\r\n" % len(body)
                    + body
                )


def _serve(sock: socket.socket) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Canned, sock=sock, backlog=4096)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# --------------------------------------------------------------------------------------------- clients


@dataclass(frozen=True)
class Run:
    name: str
    feeds: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    statuses: dict[str, int]

    @property
    def feeds_per_s(self) -> float:
        return self.feeds / self.wall_s

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_s / self.feeds


def _states(base: str, n: int) -> list[FeedState]:
    # even feeds have the current ETag (-> 304), odd ones have none (-> 200 with a body)
    return [FeedState(url=f"{base}/feed/{i}", etag=f'"{i}"' if i % 2 == 0 else None) for i in range(n)]


async def _ours(base: str, n: int, concurrency: int) -> dict[str, int]:
    limits = FetchLimits(
        per_host_concurrency=concurrency, per_host_delay_s=0.0, global_concurrency=concurrency
    )
    limiter = HostLimiter.from_limits(limits)
    now = datetime.now(UTC)
    counts: dict[str, int] = {}
    sem = asyncio.Semaphore(concurrency)

    async def one(state: FeedState) -> None:
        async with sem:
            out = await fetch_feed(client, state, limits, limiter, now=now)
        counts[out.status] = counts.get(out.status, 0) + 1

    async with build_client(limits) as client:
        await asyncio.gather(*(one(s) for s in _states(base, n)))
    return counts


async def _bare(base: str, n: int, concurrency: int) -> dict[str, int]:
    limits = FetchLimits(global_concurrency=concurrency)
    counts: dict[str, int] = {}
    sem = asyncio.Semaphore(concurrency)

    async def one(state: FeedState) -> None:
        headers = {"If-None-Match": state.etag} if state.etag else {}
        async with sem:
            r = await client.get(state.url, headers=headers)
            _ = r.content
        counts[str(r.status_code)] = counts.get(str(r.status_code), 0) + 1

    async with build_client(limits) as client:
        await asyncio.gather(*(one(s) for s in _states(base, n)))
    return counts


def _client(name: str, base: str, n: int, concurrency: int, profile: bool, out: mp.Queue[Run]) -> None:
    fn = _ours if name == "ours" else _bare
    prof = cProfile.Profile() if profile else None
    cpu0, t0 = time.process_time(), time.perf_counter()
    if prof:
        prof.enable()
    statuses = asyncio.run(fn(base, n, concurrency))
    if prof:
        prof.disable()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if prof:
        print(f"\n--- profile: {name} (top 25 by own time)", file=sys.stderr)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    out.put(Run(name, n, wall, cpu, rss, statuses))


def _run(name: str, base: str, n: int, concurrency: int, profile: bool) -> Run:
    ctx = mp.get_context("spawn")
    q: mp.Queue[Run] = ctx.Queue()
    p = ctx.Process(target=_client, args=(name, base, n, concurrency, profile, q))
    p.start()
    run = q.get()
    p.join()
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--feeds", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=1, help="runs of each client; the best of each is kept")
    ap.add_argument("--profile", action="store_true", help="cProfile both clients (slower; to stderr)")
    args = ap.parse_args()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = mp.get_context("spawn").Process(target=_serve, args=(sock,), daemon=True)
    server.start()
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"{base}/feed/1", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

        print(
            f"fetch bench: {args.feeds} feeds on {base}, concurrency {args.concurrency}, "
            f"httpx {httpx.__version__}, python {sys.version.split()[0]}"
        )
        best: dict[str, Run] = {}
        for r in range(args.rounds):
            for name in ("bare", "ours"):
                run = _run(name, base, args.feeds, args.concurrency, args.profile)
                print(
                    f"  round {r + 1} {name:4}: {run.wall_s:6.2f} s wall  {run.feeds_per_s:7.0f} feeds/s  "
                    f"{run.cpu_ms_per_request:6.3f} ms CPU/request  peak RSS {run.peak_rss_mb:6.1f} MB  "
                    f"{dict(sorted(run.statuses.items()))}"
                )
                if name not in best or run.cpu_s < best[name].cpu_s:
                    best[name] = run
    finally:
        server.terminate()
        server.join(timeout=5)

    ours, bare = best["ours"], best["bare"]
    overhead = ours.cpu_ms_per_request / bare.cpu_ms_per_request
    print(
        f"ours: {ours.feeds_per_s:.0f} feeds/s, {ours.cpu_ms_per_request:.3f} ms CPU/request, "
        f"peak RSS {ours.peak_rss_mb:.1f} MB; bare httpx: {bare.feeds_per_s:.0f} feeds/s, "
        f"{bare.cpu_ms_per_request:.3f} ms CPU/request, peak RSS {bare.peak_rss_mb:.1f} MB"
    )
    print(f"targets: {args.feeds} feeds in {ours.wall_s:.1f} s (< 60 s), overhead {overhead:.2f}x (< 1.5x)")
    print(
        f"feeds_per_s={ours.feeds_per_s:.0f} bare_feeds_per_s={bare.feeds_per_s:.0f} "
        f"overhead_vs_bare={overhead:.2f} wall_ratio={bare.feeds_per_s / ours.feeds_per_s:.2f} "
        f"cpu_ms_per_req={ours.cpu_ms_per_request:.3f} bare_cpu_ms_per_req={bare.cpu_ms_per_request:.3f} "
        f"peak_rss_mb={ours.peak_rss_mb:.1f} bare_peak_rss_mb={bare.peak_rss_mb:.1f}"
    )


if __name__ == "__main__":
    main()
