"""Qwen3-Embedding in this process: sentence-transformers modules assembled explicitly (last-token pooling)."""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from pathlib import Path

import numpy as np

from core.errors import ConfigError, MissingDependency
from core.models.batching import MergingQueue, token_batches
from core.models.device import MODEL_LOADING, preferred_dtype, resolve_device
from core.models.embed import query_text, truncate_and_normalise
from core.models.source import resolve_model
from core.settings import Settings

CPU_BATCH_TOKENS = 512  # CPU profile on a CPU: batches of similar lengths, at most this many tokens with padding


class QwenLocalEmbedder:
    """Plain documents, instructed queries, last-token pooling with left padding, L2 norm, optional Matryoshka."""

    def __init__(
        self, folder: Path, model_id: str, instruction: str, dim: int | None = None,
        device: str = "cpu", batch_size: int = 16, cpu_profile: bool = True, max_batch_tokens: int | None = None,
    ) -> None:
        try:
            from sentence_transformers import SentenceTransformer
            from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
        except ImportError as exc:
            raise MissingDependency(
                "The in-process embedder needs torch and sentence-transformers: run `make install`, "
                "or set POLYDESK_EMBEDDING_URL to an embedding server."
            ) from exc
        transformer = Transformer(
            str(folder),
            model_kwargs={"dtype": preferred_dtype(device, cpu_profile), "local_files_only": True},
            processor_kwargs={"padding_side": "left", "local_files_only": True},
            config_kwargs={"local_files_only": True},
            # Plain text only: with a "message" modality, sentence-transformers wraps strings in the
            # tokenizer's chat template, which is not the Qwen3-Embedding input format.
            modality_config={"text": {"method": "forward", "method_output_name": "last_hidden_state"}},
            module_output_name="token_embeddings",
        )
        full_dim = transformer.get_embedding_dimension()
        self._model = SentenceTransformer(
            modules=[transformer, Pooling(full_dim, pooling_mode="lasttoken"), Normalize()], device=device
        )
        self.model_id = model_id
        self.dim = vector_size(model_id, dim, full_dim)
        self.instruction = instruction
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self._queue: MergingQueue[str, np.ndarray] = MergingQueue(self._run)

    @classmethod
    def from_settings(cls, settings: Settings) -> QwenLocalEmbedder:
        """Load the configured checkpoint, or fail with the fixes."""
        folder = _checkpoint(settings)
        device = resolve_device(settings.device)
        with MODEL_LOADING:
            return cls(
                folder, settings.embedding_model, settings.embedding_instruction, settings.embedding_dim,
                device, settings.embedding_batch_size, settings.cpu_profile,
                CPU_BATCH_TOKENS if settings.cpu_profile and device == "cpu" else None,
            )

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of `dim` values for texts already in their final form; concurrent calls share a batch."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self._queue.submit(None, texts))

    def _run(self, _key: Hashable, texts: list[str]) -> np.ndarray:
        """Vectors for the texts of one or more callers: batches of `batch_size`, or with max_batch_tokens set,
        batches of similar token lengths (on a CPU a padding token costs as much as a real one)."""
        if self.max_batch_tokens is None:
            return truncate_and_normalise(self._batch(texts, self.batch_size), self.dim)
        lengths = [len(ids) for ids in self._model.tokenizer(texts)["input_ids"]]
        vectors = np.zeros((len(texts), self._model.get_embedding_dimension()), dtype=np.float32)
        for group in token_batches(lengths, self.max_batch_tokens, self.batch_size):
            vectors[group] = self._batch([texts[i] for i in group], len(group))
        return truncate_and_normalise(vectors, self.dim)

    def _batch(self, texts: list[str], batch_size: int) -> np.ndarray:
        """The model's pooled vectors for `texts`, `batch_size` at a time."""
        return self._model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Documents are embedded as they are, without an instruction."""
        return self._encode(texts)

    def embed_query(self, text: str) -> np.ndarray:
        """A query is embedded with the task instruction in front."""
        return self._encode([query_text(text, self.instruction)])[0]


def declared_signature(settings: Settings) -> tuple[str, int]:
    """The configured checkpoint's model id and vector size, read from its config without loading it."""
    full_dim = json.loads((_checkpoint(settings) / "config.json").read_text(encoding="utf-8"))["hidden_size"]
    return settings.embedding_model, vector_size(settings.embedding_model, settings.embedding_dim, full_dim)


def vector_size(model_id: str, dim: int | None, full_dim: int) -> int:
    """POLYDESK_EMBEDDING_DIM (Matryoshka) when set, else the model's hidden size; a ConfigError when too large."""
    if dim is not None and dim > full_dim:
        raise ConfigError(
            f"POLYDESK_EMBEDDING_DIM={dim} is larger than {model_id}'s {full_dim} dimensions: "
            f"set it to at most {full_dim}, or leave it unset."
        )
    return dim or full_dim


def _checkpoint(settings: Settings) -> Path:
    """The configured embedding checkpoint's folder, or ModelNotAvailable with the fixes."""
    return resolve_model(settings.embedding_model, setting="POLYDESK_EMBEDDING_MODEL",
                         url_setting="POLYDESK_EMBEDDING_URL")
