"""Build step for the optional C speed-ups (``ingest/_speedups.c``); everything else is in pyproject.toml.

The extension is optional: where it cannot be compiled (no C compiler), the install goes on and
``ingest.text`` runs its pure-Python path (same results, slower tagging; docs/decisions.md).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("ingest._speedups", ["ingest/_speedups.c"], optional=True, extra_compile_args=["-O2"]),
    ]
)
