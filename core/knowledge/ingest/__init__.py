"""Ingestion: parse files, cut them into chunks, tag languages, embed and store them."""
