"""The standard enricher: language, topics, entities and near-duplicate story id for one Article.

``build_enricher(config_dir, languages)`` builds everything once (language models, rule automata,
entity automaton, the folding tables of ``ingest.text``, an empty ``StoryIndex``);
``StandardEnricher.enrich`` is then pure CPU per article, except the tagger's file-change check when a
``TaggerReloader`` is used (one ``stat`` per article).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from ingest.entities import EntityMatcher
from ingest.language import LanguageDetector
from ingest.model import Article, EntityMatch, TextInput, TopicMatch
from ingest.stories import StoryIndex, article_fingerprint
from ingest.tag import Tagger, TaggerReloader
from ingest.text import build_tables


class TopicTagger(Protocol):
    def tag(self, doc: TextInput, language: str | None = None) -> tuple[TopicMatch, ...]: ...


class _Entities(Protocol):
    def match(self, doc: TextInput) -> tuple[EntityMatch, ...]: ...


class _Reloading:
    """Adapts a ``TaggerReloader`` (rebuilds on file change) to the ``tag`` call."""

    def __init__(self, reloader: TaggerReloader) -> None:
        self._reloader = reloader

    def tag(self, doc: TextInput, language: str | None = None) -> tuple[TopicMatch, ...]:
        return self._reloader.get().tag(doc, language)


class StandardEnricher:
    """Implements ``ingest.pipeline.Enricher``. Not thread-safe (the story index is shared state)."""

    def __init__(
        self,
        detector: LanguageDetector,
        tagger: TopicTagger,
        entities: _Entities | None,
        stories: StoryIndex,
    ) -> None:
        self.detector = detector
        self.tagger = tagger
        self.entities = entities
        self.stories = stories

    def enrich(self, article: Article, *, language_hint: str | None = None) -> Article:
        opening = article.summary or article.content
        language = self.detector.detect(article.title, opening, hint=language_hint)
        doc = TextInput(
            title=article.title, summary=article.summary, content=article.content, language=language
        )
        topics = self.tagger.tag(doc, None if language == "und" else language)
        entities = self.entities.match(doc) if self.entities is not None else ()
        fingerprint = article_fingerprint(article)
        story_id = self.stories.assign(article, fingerprint)
        return dataclasses.replace(
            article,
            language=language,
            topics=topics,
            entities=entities,
            story_id=story_id,
            simhash=fingerprint,
        )


def build_enricher(
    config_dir: Path,
    languages: Sequence[str],
    *,
    stories: StoryIndex | None = None,
    reload_topics: bool = True,
) -> StandardEnricher:
    """Enricher from ``config_dir/topics.yaml`` and ``config_dir/entities.yaml`` (optional)."""
    config_dir = Path(config_dir)
    topics_path = config_dir / "topics.yaml"
    tagger: TopicTagger = (
        _Reloading(TaggerReloader(topics_path)) if reload_topics else Tagger.from_file(topics_path)
    )
    entities_path = config_dir / "entities.yaml"
    entities = EntityMatcher.from_file(entities_path) if entities_path.is_file() else None
    build_tables()
    return StandardEnricher(LanguageDetector(languages), tagger, entities, stories or StoryIndex())
