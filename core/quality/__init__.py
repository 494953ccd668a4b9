"""Retrieval quality: rankings compared across languages, evaluation against qrels, the rerank playground."""
