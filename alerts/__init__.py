"""alerts: rules, evaluation against Elasticsearch, email and webhook delivery."""
