"""newswatch: a media-monitoring feed pipeline.

Packages: ``ingest`` (bytes -> tagged Articles, pure), ``index`` (Elasticsearch),
``alerts`` (rules, evaluation, delivery), ``newswatch`` (CLI, settings, service wiring, HTTP API).
"""

__version__ = "0.1.0"
