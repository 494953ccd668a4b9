"""Benchmarks for the in-process Qwen3 reranker and embedder (run as `python bench/<name>.py`)."""
