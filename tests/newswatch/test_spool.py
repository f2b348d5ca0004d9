"""The disk spool: durable append, bound, ordered replay, resume after restart, one owner per directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from newswatch.errors import ConfigError, StorageUnavailable
from newswatch.spool import Spool, SpoolFull


def docs(start: int, n: int) -> list[dict[str, Any]]:
    return [{"id": f"d{i}", "title": f"título {i}"} for i in range(start, start + n)]


def test_append_replay_in_order_and_delete(tmp_path: Path) -> None:
    with Spool(tmp_path / "s", max_bytes=1 << 20, segment_bytes=1024) as spool:
        spool.append(docs(0, 20))
        spool.append(docs(20, 20))
        assert len(spool) == 40 and len(spool.segments()) >= 2
        got: list[str] = []
        report = spool.replay(lambda batch: got.extend(d["id"] for d in batch), batch=7)
        assert got == [f"d{i}" for i in range(40)]
        assert (report.records, report.complete) == (40, True)
        assert spool.segments() == [] and spool.depth_bytes == 0


def test_survives_restart_and_keeps_failed_segments(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=1024).open()
    for start in (0, 10, 20):
        spool.append([{**d, "pad": "x" * 60} for d in docs(start, 10)])  # ~950 bytes: one segment each
    spool.close()
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=1024).open()
    assert len(spool) == 30
    seen: list[str] = []

    def flaky(batch: list[dict[str, Any]]) -> None:
        if len(seen) >= 20:
            raise StorageUnavailable("gone again")
        seen.extend(d["id"] for d in batch)

    with pytest.raises(StorageUnavailable):
        spool.replay(flaky, batch=5)
    assert len(spool) == 10  # the fully written segment is gone, the other stays
    left: list[str] = []
    spool.replay(lambda b: left.extend(d["id"] for d in b))
    assert set(seen) | set(left) == {f"d{i}" for i in range(30)}  # nothing lost (a re-sent part is fine)
    spool.close()


def test_bounded_with_clear_error(tmp_path: Path) -> None:
    with Spool(tmp_path, max_bytes=2048) as spool:
        spool.append(docs(0, 10))
        before = spool.depth_bytes
        with pytest.raises(SpoolFull, match=r"spool .* is full: .*NEWSWATCH_SPOOL_MAX_BYTES=2048"):
            spool.append(docs(10, 100))
        assert spool.depth_bytes == before and len(spool) == 10  # nothing half-written


def test_truncated_tail_line_is_skipped(tmp_path: Path) -> None:
    with Spool(tmp_path, max_bytes=1 << 20) as spool:
        spool.append(docs(0, 3))
        [segment] = spool.segments()
    with segment.open("ab") as fh:
        fh.write(b'{"id": "d3", "tit')  # a crash in the middle of a write
    with Spool(tmp_path, max_bytes=1 << 20) as spool:
        got: list[str] = []
        report = spool.replay(lambda b: got.extend(d["id"] for d in b))
        assert got == ["d0", "d1", "d2"] and report.skipped_lines == 1


def test_one_owner_per_directory(tmp_path: Path) -> None:
    with Spool(tmp_path, max_bytes=1 << 20), pytest.raises(ConfigError, match="in use by another"):
        Spool(tmp_path, max_bytes=1 << 20).open()
