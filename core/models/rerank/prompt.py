"""The canonical Qwen3-Reranker prompt, as published in the model card and the paper."""

from __future__ import annotations

from pathlib import Path

PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
    'Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
)
SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
TEMPLATE_FILE = Path(__file__).with_name("qwen3_reranker.jinja")


def body(query: str, document: str, instruction: str) -> str:
    """The part between prefix and suffix: instruction, query, document."""
    return f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {document}"


def canonical(query: str, document: str, instruction: str) -> str:
    """The whole string the model scores for one pair."""
    return PREFIX + body(query, document, instruction) + SUFFIX


def client_side_query(query: str, instruction: str) -> str:
    """The query sent to a vLLM server without --chat-template: prefix, instruction and query."""
    return f"{PREFIX}<Instruct>: {instruction}\n<Query>: {query}\n"


def client_side_document(document: str) -> str:
    """A document sent to such a server; vLLM's plain concatenation then yields the canonical string."""
    return f"<Document>: {document}{SUFFIX}"


def chat_template() -> str:
    """The Jinja template that renders roles system/query/document into the canonical string."""
    return TEMPLATE_FILE.read_text(encoding="utf-8")
