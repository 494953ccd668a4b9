"""The Ask page's note when answers run on this computer's CPU, and what a GPU or a vLLM server would change."""

from __future__ import annotations

from core.models.device import preferred_dtype, resolve_device
from core.models.rerank import GENERAL_RERANK_K, rerank_budget
from core.settings import Settings


def cpu_note(settings: Settings) -> str | None:
    """Which models run in this process on a CPU, how the reranker is held back there, and what would change;
    None when no model runs in this process on a CPU."""
    device = settings.device if settings.device != "auto" else resolve_device("auto")
    models = [("the embedding model", "POLYDESK_EMBEDDING_URL", not settings.embedding_url),
              ("the reranker", "POLYDESK_RERANKER_URL", not settings.reranker_url),
              ("the language model", "POLYDESK_LLM_URL", settings.llm != "off" and not settings.llm_url)]
    local = [(name, setting) for name, setting, in_process in models if in_process]
    if device != "cpu" or not local:
        return None
    names = [name for name, _ in local]
    said = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
    note = f"Answers run on this computer's CPU: {said} {'run' if len(names) > 1 else 'runs'} in this process"
    gain = f"would run {'them' if len(names) > 1 else 'it'} many times faster"
    if not settings.reranker_url:
        budget = rerank_budget(settings)
        dtype = str(preferred_dtype("cpu", settings.cpu_profile)).removeprefix("torch.")
        cap = f", the first {budget.max_passage_tokens} tokens of each" if budget.max_passage_tokens else ""
        note += f"; the reranker reads {budget.k} passages{cap}, in {dtype}"
        elsewhere_k = settings.rerank_k or GENERAL_RERANK_K
        if (elsewhere_k, settings.rerank_max_passage_tokens) != (budget.k, budget.max_passage_tokens):
            whole = "whole " if settings.rerank_max_passage_tokens is None else ""
            gain += f" and rerank {elsewhere_k} {whole}passages"
    servers = ", ".join(setting for _, setting in local)
    return f"{note}. A GPU (POLYDESK_DEVICE=cuda) or vLLM servers ({servers}) {gain}."
