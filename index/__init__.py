"""index: Elasticsearch mapping, bulk writer, search. Owns every Elasticsearch call."""
