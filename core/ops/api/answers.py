"""Answers, ticket-reply drafts and feedback: POST /api/v1/answers, /api/v1/replies, /api/v1/feedback."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, field_validator

from core.answers.answer_record import MAX_COMMENT_CHARS, MAX_ID_CHARS, LoggedAnswer
from core.answers.run import AnswerRun
from core.ops.api.errors import ApiError
from core.ops.api.keys import ApiKey
from core.ops.api.security import AskKey
from core.pipeline import Pipeline
from core.types import Answer, Candidate, Turn

MAX_QUESTION_CHARS = 4000
MAX_MESSAGE_CHARS = 20_000  # a pasted customer ticket
MAX_TURNS = 50

router = APIRouter(prefix="/api/v1", tags=["answers"])


class TurnIn(BaseModel):
    """One earlier turn of a conversation."""

    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_MESSAGE_CHARS)


class AnswerRequest(BaseModel):
    """A question, the collections to search (default all), and how to answer."""

    question: str
    collections: list[str] | None = None
    language: str | None = Field(default=None, max_length=16)
    conversation: list[TurnIn] = Field(default_factory=list, max_length=MAX_TURNS)
    stream: bool = False

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        """A question needs words."""
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class ReplyRequest(BaseModel):
    """A customer's message to draft a reply to."""

    message: str
    collections: list[str] | None = None
    language: str | None = Field(default=None, max_length=16)


class FeedbackRequest(BaseModel):
    """A rating of an answer the API gave; a second rating replaces the first."""

    answer_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    rating: Literal[1, -1]
    comment: str = Field(default="", max_length=MAX_COMMENT_CHARS)


def check_length(field: str, text: str, limit: int) -> None:
    """413 when a text is over its limit, saying the limit."""
    if len(text) > limit:
        raise ApiError(413, f"{field} has {len(text):,} characters; the limit is {limit:,}: shorten it.")


def chosen_collections(pipeline: Pipeline, names: Sequence[str] | None) -> list[str]:
    """The named collections, or all of them; 404 for an unknown name, 422 when there is none at all."""
    known = [info.name for info in pipeline.store.collections()]
    if not names:
        if not known:
            raise ApiError(422, "There are no collections yet: ingest documents first (`polydesk ingest`).")
        return known
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ApiError(404, f"Unknown collection {unknown[0]!r}: GET /api/v1/collections lists them.")
    return list(names)


def passage_json(candidate: Candidate, marker: int | None = None) -> dict:
    """A passage with where it is, its link and its scores."""
    chunk = candidate.chunk
    data = {"text": chunk.text, "source": chunk.source, "section": " › ".join(chunk.heading_path),
            "url": chunk.url, "language": chunk.language, "collection": candidate.collection,
            "score": candidate.rerank_score if candidate.rerank_score is not None else candidate.fused_score}
    return data if marker is None else {"marker": marker, **data}


def answer_json(answer_id: str, answer: Answer, run: AnswerRun) -> dict:
    """An answer, its citations, the passages it was made from, warnings and timings."""
    return {"answer_id": answer_id, "answer": answer.text, "language": answer.language, "mode": answer.mode,
            "model": answer.model, "search_query": answer.search_query,
            "citations": [passage_json(c.candidate, c.marker) for c in answer.citations],
            "passages": [passage_json(p) for p in answer.passages], "warnings": list(answer.warnings),
            "timings_ms": {k: round(v, 2) for k, v in run.timings_ms.items()}}


def start_answer(pipeline: Pipeline, question: str, collections: list[str], language: str | None,
                 conversation: Sequence[tuple[str, str]]) -> AnswerRun:
    """Pipeline.ask, with the earlier turns when there are some."""
    turns = [Turn(role, content) for role, content in conversation]
    return pipeline.ask(question, collections, language, conversation=turns)


def log_answer(request: Request, key: ApiKey, kind: str, question: str, answer: Answer, collections: list[str],
               timings_ms: dict[str, float]) -> str:
    """Keep the answer in the answer log with the caller's key name as its origin; returns its new answer_id."""
    pipeline: Pipeline = request.app.state.pipeline
    return pipeline.answer_log.record(LoggedAnswer.from_answer(
        uuid.uuid4().hex, key.name, kind, question, answer, collections, pipeline.model_ids(), timings_ms))


def sse(event: str, data: dict) -> str:
    """One Server-Sent Event."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.post("/answers")
def answers(body: AnswerRequest, request: Request, key: AskKey) -> object:
    """Answer a question with citations; `"stream": true` sends `token` events, then `done` with the answer."""
    check_length("question", body.question, MAX_QUESTION_CHARS)
    pipeline: Pipeline = request.app.state.pipeline
    collections = chosen_collections(pipeline, body.collections)
    run = start_answer(pipeline, body.question, collections, body.language,
                       [(turn.role, turn.content) for turn in body.conversation])
    if not body.stream:
        answer = run.answer()
        answer_id = log_answer(request, key, "answer", body.question, answer, collections, run.timings_ms)
        return answer_json(answer_id, answer, run)

    def events() -> Iterator[str]:
        """A token event per piece, then done with the logged answer."""
        for piece in run.stream():
            yield sse("token", {"text": piece})
        answer = run.answer()
        answer_id = log_answer(request, key, "answer", body.question, answer, collections, run.timings_ms)
        yield sse("done", answer_json(answer_id, answer, run))

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.post("/replies")
def replies(body: ReplyRequest, request: Request, key: AskKey) -> dict:
    """Draft a reply to a customer's message, in the customer's language, from cited passages with links."""
    check_length("message", body.message, MAX_MESSAGE_CHARS)
    if not body.message.strip():
        raise ApiError(422, "Invalid request: message: must not be blank.")
    pipeline: Pipeline = request.app.state.pipeline
    collections = chosen_collections(pipeline, body.collections)
    reply = pipeline.reply(body.message, collections, body.language)
    draft: Answer = reply.draft
    answer_id = log_answer(request, key, "reply", body.message, draft, collections, {})
    return {"answer_id": answer_id, "language": reply.language, "questions": list(reply.questions),
            "draft": draft.text, "mode": draft.mode,
            "citations": [passage_json(c.candidate, c.marker) for c in draft.citations],
            "passages": [passage_json(p) for p in draft.passages],
            "warnings": [*reply.warnings, *draft.warnings]}


@router.post("/feedback")
def feedback(body: FeedbackRequest, request: Request, key: AskKey) -> dict:
    """Rate an answer the API gave (1 or -1, with an optional comment); rating it again replaces the rating."""
    pipeline: Pipeline = request.app.state.pipeline
    if not pipeline.answer_log.rate(body.answer_id, body.rating, body.comment):
        raise ApiError(404, f"No answer with answer_id {body.answer_id!r}: use the answer_id of an API answer.")
    return {"answer_id": body.answer_id, "rating": body.rating, "comment": body.comment}
