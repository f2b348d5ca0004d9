"""The Elasticsearch client, and the boundary where its errors become ours.

``make_client`` builds the synchronous client (see docs/decisions.md). Code that calls Elasticsearch
wraps the calls in ``storage_errors(es)`` so that an unreachable node becomes ``StorageUnavailable``
naming the URL, and a missing index says which command creates it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TransportError
from elasticsearch import ApiError, Elasticsearch, NotFoundError
from elasticsearch.serializer import OrjsonSerializer

from newswatch.errors import StorageUnavailable
from newswatch.settings import Settings


class _Serializer(OrjsonSerializer):
    """Writes with orjson, reads with the standard library.

    Bodies (bulk actions included: ``streaming_bulk`` serialises each line with the client's
    application/json serializer) are written by orjson: ~20x faster than ``json`` on article documents,
    the same JSON (compact, UTF-8, ``/`` and non-ASCII unescaped). Responses are read by ``json``: with
    orjson reading them too, the service's resident memory at 10,000 feeds stayed at its peak (240-276
    MB against 207-211, bench/service_memory.py), the memory of the large responses not given back.
    """

    def json_loads(self, data: bytes) -> Any:
        return json.loads(data)


SERIALIZER = _Serializer()  # bench/ingest.py serialises with it too


def make_client(settings: Settings) -> Elasticsearch:
    """A synchronous client with timeouts and retries on timeout (no request is sent here).

    elastic_transport logs every retried connection failure as a WARNING with a full traceback; we
    convert the final failure into one ``StorageUnavailable`` message, so its logger is quietened to
    ERROR unless someone configured it explicitly.
    """
    transport_log = logging.getLogger("elastic_transport")
    if transport_log.level == logging.NOTSET:
        transport_log.setLevel(logging.ERROR)
    return Elasticsearch(
        settings.elasticsearch_url,
        request_timeout=settings.es_timeout_s,
        retry_on_timeout=True,
        max_retries=3,
        serializer=SERIALIZER,
    )


def es_url(es: Elasticsearch) -> str:
    """The URL of the (first) node the client talks to, for messages."""
    try:
        nodes = es.transport.node_pool.all()
        return str(nodes[0].base_url) if nodes else "Elasticsearch"
    except Exception:  # pragma: no cover - defensive, only used in messages
        return "Elasticsearch"


@contextmanager
def storage_errors(es: Elasticsearch, what: str = "") -> Iterator[None]:
    """Turn connection-level failures into ``StorageUnavailable`` naming the URL (and ``what``)."""
    where = f" ({what})" if what else ""
    try:
        yield
    except (TransportConnectionError, ConnectionTimeout) as exc:
        raise StorageUnavailable(f"cannot reach Elasticsearch at {es_url(es)}{where}: {exc}") from exc
    except NotFoundError as exc:
        if _error_type(exc) == "index_not_found_exception":
            raise StorageUnavailable(
                f"index missing at {es_url(es)}{where}: {_reason(exc)}; run `newswatch index init`"
            ) from exc
        raise
    except TransportError as exc:
        raise StorageUnavailable(f"Elasticsearch at {es_url(es)} failed{where}: {exc}") from exc


def _error_type(exc: ApiError) -> str:
    info = exc.info if isinstance(exc.info, dict) else {}
    err = info.get("error")
    return str(err.get("type", "")) if isinstance(err, dict) else ""


def _reason(exc: ApiError) -> str:
    info = exc.info if isinstance(exc.info, dict) else {}
    err = info.get("error")
    if isinstance(err, dict):
        return str(err.get("reason", exc.message))
    return str(exc.message)


def api_error_type(exc: ApiError) -> str:
    """The ``error.type`` of an Elasticsearch API error (``resource_already_exists_exception``, ...)."""
    return _error_type(exc)


def api_error_reason(exc: ApiError) -> str:
    return _reason(exc)
