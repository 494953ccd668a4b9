"""The published shapes of the Qwen3 models Polydesk serves, their compute floor, and config-only checkpoints.

vLLM's `--load-format dummy` fills random weights of the shape a model folder's config.json gives, so a folder with
config.json and the real tokenizer is enough to time a model: the cost of a forward pass does not depend on the
weight values. The floor counts 2 FLOPs per matrix parameter of the decoder layers per token (attention scores and
the 2-row score head are left out, as in ../shared/reference/qwen3-and-vllm-facts.md), at a measured matmul peak.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

QWEN3_VOCAB = 151669  # rows of embed_tokens in the Qwen3-Embedding and Qwen3-Reranker checkpoints
EOS = "<|endoftext|>"  # Qwen3-Embedding's tokenizer appends it; last-token pooling reads its hidden state


@dataclass(frozen=True)
class ModelSpec:
    """One served model: its role for deploy/serve.sh and the shape of its decoder."""

    name: str
    role: str  # "reranker" or "embedding"
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    tie_word_embeddings: bool
    max_position_embeddings: int

    @property
    def matrix_params(self) -> int:
        """Weights of the q, k, v, o and MLP projections of all decoder layers."""
        attention = 2 * self.hidden * self.heads * self.head_dim + 2 * self.hidden * self.kv_heads * self.head_dim
        return self.layers * (attention + 3 * self.hidden * self.intermediate)

    def flops(self, tokens: int) -> float:
        """Matrix FLOPs of a forward pass over `tokens` tokens."""
        return 2.0 * self.matrix_params * tokens


RERANKER_8B = ModelSpec("Qwen3-Reranker-8B", "reranker", layers=36, hidden=4096, heads=32, kv_heads=8, head_dim=128,
                        intermediate=12288, tie_word_embeddings=False, max_position_embeddings=40960)
RERANKER_0_6B = ModelSpec("Qwen3-Reranker-0.6B", "reranker", layers=28, hidden=1024, heads=16, kv_heads=8,
                          head_dim=128, intermediate=3072, tie_word_embeddings=True, max_position_embeddings=40960)
EMBEDDING_0_6B = dataclasses.replace(RERANKER_0_6B, name="Qwen3-Embedding-0.6B", role="embedding",
                                     max_position_embeddings=32768)
REAL_MODELS = (RERANKER_8B, RERANKER_0_6B, EMBEDDING_0_6B)


def tiny(spec: ModelSpec) -> ModelSpec:
    """The same model with a 2-layer decoder that vLLM's CPU build serves in seconds (head_dim 32, its minimum)."""
    return dataclasses.replace(spec, layers=2, hidden=64, heads=2, kv_heads=1, head_dim=32, intermediate=128)


def floor_seconds(spec: ModelSpec, tokens: int, peak_tflops: float) -> float:
    """The least time `tokens` tokens can take through `spec` at `peak_tflops` (matrix FLOPs only)."""
    return spec.flops(tokens) / (peak_tflops * 1e12)


def hf_config(spec: ModelSpec, dtype: str) -> dict[str, Any]:
    """config.json as the published checkpoint has it: Qwen3ForCausalLM (vLLM's --hf-overrides turn it into a
    score model or an embedder)."""
    return {
        "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": QWEN3_VOCAB,
        "hidden_size": spec.hidden, "intermediate_size": spec.intermediate, "num_hidden_layers": spec.layers,
        "num_attention_heads": spec.heads, "num_key_value_heads": spec.kv_heads, "head_dim": spec.head_dim,
        "max_position_embeddings": spec.max_position_embeddings, "max_window_layers": spec.layers,
        "tie_word_embeddings": spec.tie_word_embeddings, "hidden_act": "silu", "rms_norm_eps": 1e-6,
        "rope_theta": 1000000, "rope_scaling": None, "attention_bias": False, "attention_dropout": 0.0,
        "sliding_window": None, "use_sliding_window": False, "initializer_range": 0.02, "use_cache": True,
        "bos_token_id": 151643, "eos_token_id": 151645, "torch_dtype": dtype,
    }


def write_checkpoint_config(folder: Path, spec: ModelSpec, tokenizer: Any, dtype: str) -> Path:
    """A model folder without weights: config.json, the tokenizer, and for an embedder the sentence-transformers
    files of the published repo (last-token pooling, normalisation) with the tokenizer appending <|endoftext|>."""
    folder.mkdir(parents=True, exist_ok=True)
    _write_json(folder / "config.json", hf_config(spec, dtype))
    if spec.role == "embedding":
        from tokenizers import processors

        eos_id = tokenizer.convert_tokens_to_ids(EOS)
        tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
            single=f"$A:0 {EOS}:0", pair=f"$A:0 {EOS}:0 $B:1 {EOS}:1", special_tokens=[(EOS, eos_id)]
        )
        _write_sentence_transformers_files(folder, spec)
    tokenizer.save_pretrained(str(folder))
    return folder


def _write_sentence_transformers_files(folder: Path, spec: ModelSpec) -> None:
    """modules.json and the pooling config that vLLM reads to pool the last token and normalise."""
    _write_json(folder / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    _write_json(folder / "sentence_bert_config.json", {"max_seq_length": 8192, "do_lower_case": False})
    _write_json(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": spec.hidden, "pooling_mode_lasttoken": True, "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": False, "include_prompt": True,
    })
    (folder / "2_Normalize").mkdir(exist_ok=True)


def _write_json(path: Path, content: object) -> None:
    """Write JSON, creating the parent folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2) + "\n")
