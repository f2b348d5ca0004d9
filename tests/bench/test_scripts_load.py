"""Every benchmark loads the way it is run (``python bench/X.py``: ``bench/`` first on the path).

``bench/ingest.py`` shares its name with the ``ingest`` package; a benchmark that imports project code
before putting the project root ahead of ``bench/`` gets that file instead (``'ingest' is not a
package``). Loading each script as a script would, without calling ``main``, catches it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "bench").glob("*.py"))

LOAD = """
import runpy, sys
script = sys.argv[1]
sys.path[0] = str(__import__("pathlib").Path(script).resolve().parent)
namespace = runpy.run_path(script, run_name="loaded_by_test")
assert callable(namespace.get("main")), "no main()"
"""


def test_benchmarks_are_found() -> None:
    assert len(SCRIPTS) >= 9


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_benchmark_loads_as_a_script(script: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LOAD, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{script.name} does not load: {done.stderr[-2000:]}"
