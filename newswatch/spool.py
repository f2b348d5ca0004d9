"""A bounded, durable local queue on disk for documents Elasticsearch could not take right now.

Layout: ``{spool_dir}/seg-000000000001.jsonl``, ... -- JSON lines segments, oldest first. ``append``
writes one batch, flushes and ``fsync``s it before returning (and ``fsync``s the directory when it creates
a segment), so an acknowledged batch survives a crash. A batch that would take the spool past
``max_bytes`` is refused whole with ``SpoolFull`` (nothing half-written); the caller then keeps the work
un-acknowledged (the feed state is not advanced, so the feed is fetched again later).

``replay(write)`` hands the documents back oldest first, in batches, and deletes a segment only after
``write`` accepted all of it. If ``write`` raises (Elasticsearch went away again) the segment stays and
replay stops; replaying it again later is harmless because documents have deterministic ids and the
writer detects unchanged documents (noop). A line cut short by a crash can only be the tail of the last
batch, which was never acknowledged: it is skipped with a warning.

One process per spool directory: ``open`` takes an exclusive ``flock`` on ``{spool_dir}/.lock``.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import structlog

from newswatch.errors import ConfigError, StorageUnavailable

log = structlog.get_logger(__name__)

SEGMENT_PREFIX = "seg-"
SEGMENT_SUFFIX = ".jsonl"


class SpoolFull(StorageUnavailable):
    """Elasticsearch is unreachable and the local spool has no room left for this batch."""


@dataclass(frozen=True, slots=True)
class ReplayReport:
    records: int
    segments: int
    skipped_lines: int
    complete: bool
    """True when the spool is empty afterwards."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """See the module docstring. Not thread-safe: one owner (callers serialise access)."""

    def __init__(self, directory: Path, max_bytes: int, segment_bytes: int = 8 * 1024 * 1024) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = max(1024, min(segment_bytes, max_bytes))
        self._lock: IO[bytes] | None = None
        self._current: IO[bytes] | None = None
        self._current_path: Path | None = None
        self._bytes = 0
        self._records = 0
        self._next_seq = 1

    # ------------------------------------------------------------------------------------ lifecycle
    def open(self) -> Spool:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            lock = open(self.directory / ".lock", "ab")  # noqa: SIM115 - held until close()
        except OSError as exc:
            raise ConfigError(f"spool directory {self.directory}: {exc}") from exc
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            raise ConfigError(
                f"spool directory {self.directory} is in use by another newswatch process; "
                "give each worker its own NEWSWATCH_SPOOL_DIR"
            ) from None
        self._lock = lock
        segments = self.segments()
        self._bytes = sum(p.stat().st_size for p in segments)
        self._records = sum(self._count_lines(p) for p in segments)
        self._next_seq = (self._seq(segments[-1]) + 1) if segments else 1
        if segments:
            log.info("spool.found", dir=str(self.directory), records=self._records, bytes=self._bytes)
        return self

    def close(self) -> None:
        self._close_segment()
        if self._lock is not None:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Spool:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------------------------ state
    @property
    def depth_bytes(self) -> int:
        return self._bytes

    @property
    def depth_records(self) -> int:
        return self._records

    def __len__(self) -> int:
        return self._records

    def segments(self) -> list[Path]:
        return sorted(self.directory.glob(f"{SEGMENT_PREFIX}*{SEGMENT_SUFFIX}"))

    @staticmethod
    def _seq(path: Path) -> int:
        return int(path.name[len(SEGMENT_PREFIX) : -len(SEGMENT_SUFFIX)])

    @staticmethod
    def _count_lines(path: Path) -> int:
        with path.open("rb") as fh:
            return sum(1 for line in fh if line.strip())

    # ------------------------------------------------------------------------------------ writing
    def append(self, records: Sequence[dict[str, Any]]) -> None:
        """Durably add ``records`` (all or nothing). ``SpoolFull`` when they do not fit."""
        if self._lock is None:
            raise RuntimeError("spool is not open")
        if not records:
            return
        payload = b"".join(
            json.dumps(r, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8") + b"\n"
            for r in records
        )
        if self._bytes + len(payload) > self.max_bytes:
            raise SpoolFull(
                f"spool {self.directory} is full: {self._bytes} bytes held, {len(payload)} more would pass "
                f"NEWSWATCH_SPOOL_MAX_BYTES={self.max_bytes}; Elasticsearch has been unreachable too long "
                f"({len(records)} document(s) not accepted, their feeds will be fetched again)"
            )
        fh = self._segment_for(len(payload))
        try:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        except OSError as exc:
            raise StorageUnavailable(f"cannot write spool {self.directory}: {exc}") from exc
        self._bytes += len(payload)
        self._records += len(records)

    def _segment_for(self, size: int) -> IO[bytes]:
        if self._current is not None and self._current.tell() + size > self.segment_bytes:
            self._close_segment()
        if self._current is None:
            path = self.directory / f"{SEGMENT_PREFIX}{self._next_seq:012d}{SEGMENT_SUFFIX}"
            self._next_seq += 1
            self._current = path.open("ab")
            self._current_path = path
            _fsync_dir(self.directory)
        return self._current

    def _close_segment(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None
            self._current_path = None

    # ------------------------------------------------------------------------------------ replay
    def _read(self, path: Path) -> Iterator[dict[str, Any] | None]:
        with path.open("rb") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    log.warning("spool.bad_line", segment=str(path), line=n)
                    yield None
                    continue
                yield record if isinstance(record, dict) else None

    def replay(self, write: Callable[[list[dict[str, Any]]], object], batch: int = 500) -> ReplayReport:
        """Hand every record to ``write`` (oldest first); a segment is deleted once all of it was written.
        Exceptions from ``write`` propagate after what was fully written has been removed."""
        self._close_segment()
        done_records = done_segments = skipped = 0
        for path in self.segments():
            records_in_segment = 0
            bad_in_segment = 0
            pending: list[dict[str, Any]] = []
            for record in self._read(path):
                if record is None:
                    bad_in_segment += 1
                    continue
                pending.append(record)
                records_in_segment += 1
                if len(pending) >= batch:
                    write(pending)
                    pending = []
            if pending:
                write(pending)
            size = path.stat().st_size
            path.unlink()
            _fsync_dir(self.directory)
            self._bytes = max(0, self._bytes - size)
            self._records = max(0, self._records - records_in_segment - bad_in_segment)
            skipped += bad_in_segment
            done_records += records_in_segment
            done_segments += 1
        if not self.segments():
            self._bytes = 0
            self._records = 0
        return ReplayReport(done_records, done_segments, skipped, complete=self._records == 0)
