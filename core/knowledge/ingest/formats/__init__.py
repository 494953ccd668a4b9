"""One parser per file format; core.knowledge.ingest.parse chooses among them."""
