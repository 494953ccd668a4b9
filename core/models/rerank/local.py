"""Qwen3-Reranker in this process, through sentence-transformers' CrossEncoder and our prompt template."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path

from core.errors import MissingDependency
from core.models.batching import MergingQueue
from core.models.device import preferred_dtype, resolve_device
from core.models.rerank import rerank_budget, top_ranked
from core.models.rerank.prompt import chat_template
from core.models.source import resolve_model
from core.settings import Settings
from core.types import Ranked


class QwenLocalReranker:
    """Scores pairs as P(yes) from the yes/no logits at the last position only, document-only truncation."""

    def __init__(
        self, folder: Path, model_id: str, instruction: str, device: str = "cpu",
        max_length: int = 8192, batch_size: int = 4, cpu_profile: bool = True,
        max_passage_tokens: int | None = None,
    ) -> None:
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:
            raise MissingDependency(
                "The in-process reranker needs torch and sentence-transformers: run `make install`, "
                "or set POLYDESK_RERANKER_URL to a vLLM server."
            ) from exc
        self.model_id = model_id
        self.instruction = instruction
        self.batch_size = batch_size
        self.max_passage_tokens = max_passage_tokens
        self._queue: MergingQueue[tuple[str, str], float] = MergingQueue(self._predict)
        self._model = CrossEncoder(
            str(folder),
            device=device,
            max_length=max_length,
            local_files_only=True,
            model_kwargs={"dtype": preferred_dtype(device, cpu_profile)},
            processor_kwargs={"chat_template": chat_template(), "padding_side": "left"},
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> QwenLocalReranker:
        """Load the configured checkpoint, or fail with the fixes."""
        folder = resolve_model(
            settings.reranker_model, setting="POLYDESK_RERANKER_MODEL", url_setting="POLYDESK_RERANKER_URL"
        )
        return cls(
            folder, settings.reranker_model, settings.reranker_instruction, resolve_device(settings.device),
            settings.reranker_max_length, settings.reranker_batch_size, settings.cpu_profile,
            rerank_budget(settings).max_passage_tokens,
        )

    def token_ids(self, query: str, documents: Sequence[str], instruction: str | None = None) -> list[list[int]]:
        """The exact token ids scored for each pair, padding removed (for inspection and tests)."""
        features = self._model.preprocess(
            [(query, document) for document in documents], prompt=instruction or self.instruction
        )
        rows = zip(features["input_ids"], features["attention_mask"], strict=True)
        return [ids[mask.bool()].tolist() for ids, mask in rows]

    def scores(self, query: str, documents: Sequence[str], instruction: str | None = None) -> list[float]:
        """P(yes) for each document, in input order; concurrent calls with one instruction share a batch."""
        if not documents:
            return []
        pairs = [(query, d) for d in self.capped(documents)]
        return list(self._queue.submit(instruction or self.instruction, pairs))

    def capped(self, documents: Sequence[str]) -> list[str]:
        """Each document cut to its first max_passage_tokens tokens (all of it when no cap is set)."""
        cap = self.max_passage_tokens
        if cap is None:
            return list(documents)
        tokenizer = self._model.tokenizer
        rows = tokenizer(list(documents), add_special_tokens=False)["input_ids"]
        return [d if len(ids) <= cap else tokenizer.decode(ids[:cap]) for d, ids in zip(documents, rows, strict=True)]

    def _predict(self, instruction: Hashable, pairs: list[tuple[str, str]]) -> list[float]:
        """One model call over (query, document) pairs that share an instruction."""
        values = self._model.predict(pairs, prompt=str(instruction), batch_size=self.batch_size,
                                     show_progress_bar=False)
        return [float(v) for v in values]

    def rerank(
        self, query: str, documents: Sequence[str], top_n: int | None = None, instruction: str | None = None
    ) -> list[Ranked]:
        """Documents ranked best first by P(yes)."""
        return top_ranked(self.scores(query, documents, instruction), top_n)
