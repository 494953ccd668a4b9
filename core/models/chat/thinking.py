"""Qwen3 thinking: which models take the `enable_thinking` switch, and hiding `<think>` blocks from answers."""

from __future__ import annotations

import re
from collections.abc import Iterable

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
# Qwen3 hybrid models (Qwen3-8B, Qwen3-30B-A3B, qwen3:8b in Ollama, quantised variants) think unless told not
# to; the 2507 generation split them into *-Instruct-2507 (never thinks) and *-Thinking-2507 (always thinks).
_QWEN3 = re.compile(r"qwen3")
_NOT_HYBRID = re.compile(r"instruct|thinking|embedding|reranker")


def is_hybrid_thinking_model(model_id: str) -> bool:
    """True for Qwen3 models whose chat template honours `enable_thinking` (not the Instruct/Thinking-2507 ones)."""
    name = model_id.lower().rstrip("/").rsplit("/", 1)[-1]
    return bool(_QWEN3.search(name)) and not _NOT_HYBRID.search(name)


def thinking_switch(thinking: str, model_id: str) -> dict[str, bool] | None:
    """The chat_template_kwargs to send for POLYDESK_LLM_THINKING (auto/on/off), or None to send nothing."""
    if thinking == "off" or (thinking == "auto" and is_hybrid_thinking_model(model_id)):
        return {"enable_thinking": False}
    return None


class ThinkFilter:
    """Drops `<think>...</think>` blocks from streamed text, also when a tag is split across pieces."""

    def __init__(self, thinking: bool = False) -> None:
        self._buffer = ""
        self._state = "thinking" if thinking else "start"  # start | thinking | after | answer

    def feed(self, piece: str) -> str:
        """The part of the text so far that can be shown now."""
        self._buffer += piece
        shown = ""
        while self._buffer:
            if self._state == "answer":
                shown, self._buffer = shown + self._buffer, ""
            elif self._state == "thinking":
                end = self._buffer.find(THINK_CLOSE)
                if end < 0:
                    self._buffer = self._buffer[-(len(THINK_CLOSE) - 1):]
                    break
                self._buffer = self._buffer[end + len(THINK_CLOSE):]
                self._state = "after"
            else:
                head = self._buffer.lstrip()
                if self._state == "after":  # the blank lines between </think> and the answer
                    self._buffer = head
                if not head or (THINK_OPEN.startswith(head) and head != THINK_OPEN):
                    break  # blank so far, or maybe the start of <think>: wait for more
                if head.startswith(THINK_OPEN):
                    self._buffer = head[len(THINK_OPEN):]
                    self._state = "thinking"
                else:
                    self._state = "answer"
        return shown

    def flush(self) -> str:
        """What is left at the end of the stream (nothing of an unfinished thinking block)."""
        rest, self._buffer = ("" if self._state in ("thinking", "after") else self._buffer), ""
        return rest


def visible_text(pieces: Iterable[str]) -> str:
    """A whole generation's text as a reader sees it: `<think>` blocks removed, the ends stripped."""
    think = ThinkFilter()
    return ("".join(think.feed(piece) for piece in pieces) + think.flush()).strip()
