"""Models, one protocol per role (embed, rerank, chat) with local and HTTP backends, and what they share."""
