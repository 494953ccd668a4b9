"""Randomly initialised Qwen3 checkpoints laid out like the published Qwen3-Embedding and Qwen3-Reranker repos."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

SHARED_TOKENIZER = Path(__file__).resolve().parents[2] / "shared" / "qwen3-tokenizer"
QWEN3_SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>",
]
EMBEDDING_QUERY_PROMPT = "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:"


@dataclass(frozen=True)
class Shape:
    """The few numbers that size a Qwen3 decoder."""

    layers: int = 2
    hidden: int = 64
    heads: int = 2
    kv_heads: int = 1
    head_dim: int = 32  # vLLM's CPU attention rejects head_dim < 32
    intermediate: int = 128


TINY = Shape()
QWEN3_0_6B = Shape(layers=28, hidden=1024, heads=16, kv_heads=8, head_dim=128, intermediate=3072)


def real_tokenizer_dir() -> Path | None:
    """The real Qwen3 tokenizer: POLYDESK_TEST_TOKENIZER when set (`none` for no tokenizer), else the shared copy."""
    configured = os.environ.get("POLYDESK_TEST_TOKENIZER")
    candidate = Path(configured) if configured else SHARED_TOKENIZER
    return candidate if (candidate / "vocab.json").is_file() else None


def load_tokenizer(source: Path | None):
    """The real Qwen3 tokenizer from `source`, or one trained here with Qwen3's special tokens."""
    from transformers import AutoTokenizer

    if source is not None:
        return AutoTokenizer.from_pretrained(str(source))
    return _trained_tokenizer()


def _trained_tokenizer():
    """A byte-level BPE trained on a little multilingual text, with single-token "yes" and "no"."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    sample = [
        "Judge whether the Document meets the requirements based on the Query and the Instruct provided.",
        "Given a web search query, retrieve relevant passages that answer the query",
        "The API returns 401 when the token expired. Use the refresh endpoint to get a new one.",
        "Die API gibt 401 zurück, wenn das Token abgelaufen ist.",
        "トークンの有効期限が切れると、APIは401を返します。",
        "토큰이 만료되면 API는 401을 반환합니다.",
        "Если срок действия токена истёк, API возвращает 401.",
        "عندما تنتهي صلاحية الرمز، تعيد الواجهة الرمز 401.",
        "令牌过期时，API 返回 401。",
        "yes no Instruct Query Document system user assistant",
    ]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=2000,
        special_tokens=QWEN3_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(sample * 4, trainer=trainer)
    tokenizer.add_tokens(["yes", "no"])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=QWEN3_SPECIAL_TOKENS[1:],
    )


def _config(shape: Shape, vocab_size: int, architecture: str, tokenizer):
    """A Qwen3Config of the given shape, in float32."""
    from transformers import Qwen3Config

    return Qwen3Config(
        vocab_size=vocab_size,
        hidden_size=shape.hidden,
        intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        head_dim=shape.head_dim,
        max_position_embeddings=8192,
        tie_word_embeddings=False,
        architectures=[architecture],
        torch_dtype="float32",
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
    )


def _vocab_size(tokenizer) -> int:
    """Rows of the embedding matrix: every id the tokenizer can emit, rounded up like Qwen's."""
    return max(len(tokenizer), 128) + (-max(len(tokenizer), 128)) % 64


def build_reranker(folder: Path, tokenizer, shape: Shape = TINY, seed: int = 0) -> Path:
    """Save a random Qwen3ForCausalLM with its tokenizer, as in the Qwen3-Reranker repos."""
    import torch
    from transformers import Qwen3ForCausalLM

    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(_config(shape, _vocab_size(tokenizer), "Qwen3ForCausalLM", tokenizer))
    _spread_yes_no(model, tokenizer)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _spread_yes_no(model, tokenizer) -> None:
    """Give the yes/no rows of a random head enough contrast that scores are not all ~0.5 (nor all ~0 or ~1)."""
    import torch

    factor = 20.0 * (64 / model.config.hidden_size) ** 0.5  # wider models already spread their logits more
    with torch.no_grad():
        for token in ("yes", "no"):
            row = model.lm_head.weight[tokenizer.convert_tokens_to_ids(token)]
            row.mul_(factor)


def build_embedder(folder: Path, tokenizer, shape: Shape = TINY, seed: int = 0) -> Path:
    """Save a random Qwen3Model laid out like Qwen3-Embedding (modules.json, last-token pooling, EOS appended)."""
    import torch
    from tokenizers import processors
    from transformers import Qwen3Model

    torch.manual_seed(seed)
    model = Qwen3Model(_config(shape, _vocab_size(tokenizer), "Qwen3Model", tokenizer))
    model.save_pretrained(folder)
    eos = "<|endoftext|>"
    eos_id = tokenizer.convert_tokens_to_ids(eos)
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single=f"$A:0 {eos}:0", pair=f"$A:0 {eos}:0 $B:1 {eos}:1", special_tokens=[(eos, eos_id)]
    )
    tokenizer.save_pretrained(folder)
    _write(folder / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    _write(folder / "sentence_bert_config.json", {"max_seq_length": 8192, "do_lower_case": False})
    _write(folder / "config_sentence_transformers.json", {
        "prompts": {"query": EMBEDDING_QUERY_PROMPT, "document": ""},
        "default_prompt_name": None, "similarity_fn_name": "cosine",
    })
    _write(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": shape.hidden, "pooling_mode_lasttoken": True,
        "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": False, "include_prompt": True,
    })
    (folder / "2_Normalize").mkdir(exist_ok=True)
    return folder


def _write(path: Path, content: object) -> None:
    """Write JSON, creating the parent folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2))


# --- A tiny Qwen3 chat model (hybrid thinking) for core.models.chat ---

# The generation prompt of Qwen3's hybrid-thinking chat template (Qwen3-0.6B ... Qwen3-32B): the model opens its
# own <think> block unless enable_thinking=False, when the template closes an empty one. The shared tokenizer
# carries the Thinking-2507 template, which always opens <think> itself; the rest of the two templates is the same.
QWEN3_HYBRID_GENERATION_PROMPT = (
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "    {%- if enable_thinking is defined and enable_thinking is false %}\n"
    "        {{- '<think>\\n\\n</think>\\n\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endif %}"
)
_CHATML_MESSAGES = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- endfor %}\n"
)


def qwen3_hybrid_chat_template(tokenizer) -> str:
    """Qwen3's hybrid-thinking chat template, from the tokenizer's Qwen3 template (or plain ChatML without one)."""
    template = tokenizer.chat_template if isinstance(getattr(tokenizer, "chat_template", None), str) else ""
    start = template.rfind("{%- if add_generation_prompt %}")
    body = template[:start] if start > 0 else _CHATML_MESSAGES
    return body + QWEN3_HYBRID_GENERATION_PROMPT


def build_chat_model(folder: Path, tokenizer, shape: Shape = TINY, seed: int = 0) -> Path:
    """Save a random Qwen3ForCausalLM with its tokenizer and Qwen3's hybrid chat template, as in the Qwen3 repos."""
    import torch
    from transformers import GenerationConfig, Qwen3ForCausalLM

    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(_config(shape, _vocab_size(tokenizer), "Qwen3ForCausalLM", tokenizer))
    # Like Qwen3's own generation_config.json: sampling by default, so greedy decoding must be asked for.
    model.generation_config = GenerationConfig(
        do_sample=True, temperature=0.6, top_p=0.95, top_k=20, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=[tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")],
    )
    model.save_pretrained(folder)
    tokenizer.chat_template = qwen3_hybrid_chat_template(tokenizer)
    tokenizer.save_pretrained(folder)
    return folder
