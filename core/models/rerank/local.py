"""Qwen3-Reranker in this process: our prompt template through sentence-transformers' CrossEncoder, the shared
prompt prefix of a question computed once (core/models/rerank/prefix.py)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path

from core.errors import MissingDependency
from core.models.batching import MergingQueue
from core.models.device import MODEL_LOADING, preferred_dtype, resolve_device
from core.models.rerank import rerank_budget, top_ranked
from core.models.rerank.prompt import chat_template, client_side_query
from core.models.source import resolve_model
from core.settings import Settings
from core.types import Ranked


class QwenLocalReranker:
    """Scores pairs as P(yes) from the yes/no logits at the last position only, document-only truncation.

    With reuse_prefix (the default) the tokens every pair of a question shares are run once per question; without
    it, or for a pair whose tokens do not start with that prefix, each pair runs whole through the CrossEncoder.
    """

    def __init__(
        self, folder: Path, model_id: str, instruction: str, device: str = "cpu",
        max_length: int = 8192, batch_size: int = 4, cpu_profile: bool = True,
        max_passage_tokens: int | None = None, reuse_prefix: bool = True,
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
        self.reuse_prefix = reuse_prefix
        self._queue: MergingQueue[str, float] = MergingQueue(self._predict)
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
        with MODEL_LOADING:
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
        """P(yes) for each document, in input order; concurrent calls with one instruction and query share a batch."""
        if not documents:
            return []
        return list(self._queue.submit((instruction or self.instruction, query), self.capped(documents)))

    def capped(self, documents: Sequence[str]) -> list[str]:
        """Each document cut to its first max_passage_tokens tokens (all of it when no cap is set)."""
        cap = self.max_passage_tokens
        if cap is None:
            return list(documents)
        tokenizer = self._model.tokenizer
        rows = tokenizer(list(documents), add_special_tokens=False)["input_ids"]
        return [d if len(ids) <= cap else tokenizer.decode(ids[:cap]) for d, ids in zip(documents, rows, strict=True)]

    def _predict(self, key: Hashable, documents: list[str]) -> list[float]:
        """P(yes) for documents that share an (instruction, query): after the prefix where their tokens allow."""
        from core.models.rerank.prefix import split_rows  # torch is imported only with the model

        instruction, query = key
        prefix_ids = self._prefix_ids(query, instruction)
        tails = (split_rows(self.token_ids(query, documents, instruction), prefix_ids) if self.reuse_prefix
                 else [None] * len(documents))
        scores = [0.0] * len(documents)
        whole = [i for i, tail in enumerate(tails) if tail is None]
        reused = [i for i, tail in enumerate(tails) if tail is not None]
        if whole:
            values = self._model.predict([(query, documents[i]) for i in whole], prompt=instruction,
                                         batch_size=self.batch_size, show_progress_bar=False)
            for i, value in zip(whole, values, strict=True):
                scores[i] = float(value)
        if reused:
            values = self._after_prefix(prefix_ids, [tails[i] for i in reused])
            for i, value in zip(reused, values, strict=True):
                scores[i] = value
        return scores

    def _after_prefix(self, prefix_ids: list[int], tails: list[list[int]]) -> list[float]:
        """P(yes) for each tail run after the prefix, whose keys and values are computed once; batches of
        neighbouring lengths (little right padding)."""
        from core.models.rerank.prefix import prefix_state, score_tails

        model, tokenizer = self._model.model, self._model.tokenizer
        yes, no = tokenizer.convert_tokens_to_ids("yes"), tokenizer.convert_tokens_to_ids("no")
        state = prefix_state(model, prefix_ids)
        order = sorted(range(len(tails)), key=lambda i: -len(tails[i]))
        scores = [0.0] * len(tails)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            values = score_tails(model, state, [tails[i] for i in batch], yes, no, tokenizer.pad_token_id or 0)
            for i, value in zip(batch, values, strict=True):
                scores[i] = value
        return scores

    def _prefix_ids(self, query: str, instruction: str) -> list[int]:
        """The token ids of the template up to and including "<Document>:", which every pair of the query shares."""
        text = client_side_query(query, instruction) + "<Document>:"
        return self._model.tokenizer(text, add_special_tokens=False)["input_ids"]

    def rerank(
        self, query: str, documents: Sequence[str], top_n: int | None = None, instruction: str | None = None
    ) -> list[Ranked]:
        """Documents ranked best first by P(yes)."""
        return top_ranked(self.scores(query, documents, instruction), top_n)
