"""The articles index: settings and mapping (core Elasticsearch only: ``standard`` analyzer, keyword, date).

Case/accent folding is done in Python (``ingest.text.fold``) into fields of their own:

- ``title_folded``: folded title; ``text_folded``: folded summary + content (both ``standard``).
- ``title_compounds`` / ``text_compounds``: hyphen/apostrophe-joined words glued back together
  (``anti-aérienne`` -> ``antiaerienne``), so the query ``antiaerienne`` finds ``anti-aérienne``.
- ``tags_folded``: folded entity names and topic ids, one value each, so ``NATO`` finds a French
  article that only says ``OTAN`` once the entity/topic step recognised it.

The original ``title``/``summary``/``content`` are kept in ``_source`` for display and highlighting;
only ``title`` is indexed (``summary``/``content`` are searched through ``text_folded``).

``dynamic: strict``: every document comes from ``index.writer.article_to_doc``, so a field that is not
in the mapping is a bug (code and mapping drifted apart). Strict rejects that document with a per-document
error that ``BulkWriter`` reports, instead of silently guessing a type that then sticks for the life of
the index. Additive mapping changes are pushed to the live index by ``ensure_indices``; incompatible ones
need a new versioned index (``-v2``) and a reindex behind the alias.
"""

from __future__ import annotations

from typing import Any

MAPPING_VERSION = 1

# Fields computed for search only: never shown to users, excluded from hits' _source.
INTERNAL_FIELDS: tuple[str, ...] = (
    "title_folded",
    "text_folded",
    "title_compounds",
    "text_compounds",
    "tags_folded",
    "doc_fingerprint",
)

_KW = {"type": "keyword", "ignore_above": 2048}
_KW_SHORT = {"type": "keyword", "ignore_above": 256}
_TEXT = {"type": "text", "analyzer": "standard"}
_DATE = {"type": "date", "format": "strict_date_optional_time||epoch_millis"}


def articles_settings() -> dict[str, Any]:
    return {
        "number_of_shards": 1,
        "auto_expand_replicas": "0-1",
        # Bound the damage of hostile queries on top of the bounds in index.query.
        "max_result_window": 10_000,
    }


def articles_mappings() -> dict[str, Any]:
    return {
        "dynamic": "strict",
        "properties": {
            "id": _KW_SHORT,
            "url": _KW,
            "canonical_url": _KW,
            "feed_url": _KW,
            "guid": _KW,
            "source": {
                "properties": {
                    "name": _KW_SHORT,
                    "domain": _KW_SHORT,
                }
            },
            "title": _TEXT,
            "summary": {"type": "text", "index": False},
            "content": {"type": "text", "index": False},
            "title_folded": _TEXT,
            "text_folded": _TEXT,
            "title_compounds": _TEXT,
            "text_compounds": _TEXT,
            "tags_folded": _TEXT,
            "authors": _KW_SHORT,
            "categories": _KW_SHORT,
            "image_url": {"type": "keyword", "index": False, "doc_values": False},
            "language": _KW_SHORT,
            "content_hash": _KW_SHORT,
            "doc_fingerprint": {"type": "keyword", "index": False, "doc_values": False},
            "date_flags": _KW_SHORT,
            "published_at": _DATE,
            "fetched_at": _DATE,
            "indexed_at": _DATE,
            "first_indexed_at": _DATE,
            "story_id": _KW_SHORT,
            # The near-duplicate fingerprint (64 bits as 16 hex digits: unsigned_long is an x-pack type),
            # kept in _source only, so a restarted service can warm its story index.
            "simhash": {"type": "keyword", "index": False, "doc_values": False},
            "topics": {
                "properties": {
                    "id": _KW_SHORT,
                    "score": {"type": "float"},
                    "terms": _KW_SHORT,
                    # The evidence (term, field, position) is only displayed, never queried.
                    "hits": {"type": "object", "enabled": False},
                }
            },
            "entities": {
                "properties": {
                    "id": _KW_SHORT,
                    "name": _KW_SHORT,
                    "kind": _KW_SHORT,
                    "surface": {"type": "keyword", "index": False, "doc_values": False},
                }
            },
        },
    }
