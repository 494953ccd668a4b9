"""OpenAI-compatible /v1/models and /v1/chat/completions, so OpenAI SDKs and chat front ends can ask Polydesk."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from core.ops.api.answers import MAX_QUESTION_CHARS, check_length, log_answer, passage_json, start_answer
from core.ops.api.errors import ApiError
from core.ops.api.security import AskKey
from core.pipeline import Pipeline
from core.types import Answer

ALL_MODEL = "polydesk"
router = APIRouter(prefix="/v1", tags=["openai-compatible"])


class Message(BaseModel):
    """One chat message; system messages are accepted and ignored."""

    role: str
    content: str | list[dict] | None = None


class ChatRequest(BaseModel):
    """The fields of an OpenAI chat completion request that Polydesk uses; others are ignored."""

    model: str = ALL_MODEL
    messages: list[Message] = Field(min_length=1)
    stream: bool = False


def _text(message: Message) -> str:
    """A message's text, also from the list-of-parts form."""
    if isinstance(message.content, list):
        return "".join(str(part.get("text", "")) for part in message.content if part.get("type") == "text")
    return message.content or ""


def _collections(pipeline: Pipeline, model: str) -> list[str]:
    """`polydesk` searches every collection; any other model name is one collection."""
    known = [info.name for info in pipeline.store.collections()]
    if model == ALL_MODEL:
        return known
    if model not in known:
        raise ApiError(404, f"Unknown model {model!r}: GET /v1/models lists one per collection, and "
                       f"{ALL_MODEL!r} for all.", code="model_not_found")
    return [model]


def _sources(answer: Answer) -> str:
    """The cited passages as lines under the answer: `[n] source › section (url)`."""
    lines = []
    for citation in answer.citations:
        data = passage_json(citation.candidate)
        where = f"{data['source']} › {data['section']}" if data["section"] else data["source"]
        lines.append(f"[{citation.marker}] {where}" + (f" ({data['url']})" if data["url"] else ""))
    return "\n\nSources:\n" + "\n".join(lines) if lines else ""


@router.get("/models")
def models(request: Request, key: AskKey) -> dict:
    """One model per collection, plus `polydesk` for all collections."""
    names = [ALL_MODEL, *(info.name for info in request.app.state.pipeline.store.collections())]
    return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "polydesk"}
                                       for name in names]}


@router.post("/chat/completions")
def chat_completions(body: ChatRequest, request: Request, key: AskKey) -> object:
    """The last user message is the question, the earlier turns its conversation; citations as [n] and a field."""
    turns = [(m.role, _text(m)) for m in body.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1][0] != "user" or not turns[-1][1].strip():
        raise ApiError(422, "Invalid request: messages: the last user or assistant message must be a user's "
                       "question.")
    question = turns[-1][1]
    check_length("messages[-1].content", question, MAX_QUESTION_CHARS)
    pipeline: Pipeline = request.app.state.pipeline
    collections = _collections(pipeline, body.model)
    if not collections:
        raise ApiError(422, "There are no collections yet: ingest documents first (`polydesk ingest`).")
    run = start_answer(pipeline, question, collections, None, turns[:-1])
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def finished() -> tuple[Answer, dict]:
        """The finished answer, logged, and the extra fields of the completion."""
        answer = run.answer()
        answer_id = log_answer(request, key, "chat", question, answer, collections, run.timings_ms)
        return answer, {"answer_id": answer_id, "warnings": list(answer.warnings),
                        "citations": [passage_json(c.candidate, c.marker) for c in answer.citations]}

    if not body.stream:
        answer, extra = finished()
        message = {"role": "assistant", "content": answer.text + _sources(answer)}
        return {"id": completion_id, "object": "chat.completion", "created": created, "model": body.model,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}, **extra}

    def chunk(delta: dict, finish: str | None = None, **extra: object) -> str:
        """One chat.completion.chunk event."""
        data = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": body.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    def events() -> Iterator[str]:
        """The role, the answer's pieces, its sources, then the finish with citations."""
        yield chunk({"role": "assistant", "content": ""})
        for piece in run.stream():
            yield chunk({"content": piece})
        answer, extra = finished()
        sources = _sources(answer)
        if sources:
            yield chunk({"content": sources})
        yield chunk({}, "stop", **extra)
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
