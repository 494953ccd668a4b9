"""The knowledge layer: files parsed, chunked, language-tagged and stored; hybrid search over them."""
