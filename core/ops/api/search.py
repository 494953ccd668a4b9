"""Ranked passages with their score at every stage: POST /api/v1/search."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from core.ops.api.answers import MAX_QUESTION_CHARS, check_length, chosen_collections, passage_json
from core.ops.api.security import AskKey
from core.pipeline import Pipeline

router = APIRouter(prefix="/api/v1", tags=["search"])


class SearchRequest(BaseModel):
    """A query, the collections to search (default all) and how many passages to return."""

    query: str = Field(min_length=1)
    collections: list[str] | None = None
    top_n: int = Field(default=5, ge=1, le=100)


@router.post("/search")
def search(body: SearchRequest, request: Request, key: AskKey) -> dict:
    """Hybrid search with reranking, best first."""
    check_length("query", body.query, MAX_QUESTION_CHARS)
    pipeline: Pipeline = request.app.state.pipeline
    result = pipeline.search(body.query, chosen_collections(pipeline, body.collections), top_n=body.top_n)
    results = [{**passage_json(c), "chunk_id": c.chunk.id, "anchor": c.chunk.anchor,
                "scores": {"dense": c.dense_score, "lexical": c.lexical_score, "fused": c.fused_score,
                           "rerank": c.rerank_score},
                "ranks": {"dense": c.dense_rank, "lexical": c.lexical_rank, "fused": c.fused_rank,
                          "rerank": c.rerank_rank}} for c in result.candidates]
    return {"query": result.query, "query_language": result.query_language, "results": results,
            "warnings": list(result.warnings), "timings_ms": {k: round(v, 2) for k, v in result.timings_ms.items()}}
