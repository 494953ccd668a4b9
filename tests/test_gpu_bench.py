"""The GPU benchmark's arithmetic and model folders: floors as the facts file states them, real Qwen3 shapes,
configs that build the right architecture, deploy's flags, and a workload of fresh questions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bench.gpu_shapes import EMBEDDING_0_6B, REAL_MODELS, RERANKER_0_6B, RERANKER_8B, floor_seconds, tiny
from bench.gpu_shapes import write_checkpoint_config as write_config
from bench.gpu_vllm import COMPOSE_FLAGS, PASSAGE_TOKENS, PASSAGES_PER_QUESTION, PHASES, SMOKE, Workload, server_command
from tests.conftest import TOKENIZER_DIR
from tests.tiny_qwen3 import load_tokenizer

COMPOSE = Path(__file__).resolve().parents[1] / "deploy" / "compose.yaml"


@pytest.fixture(scope="module")
def tokenizer():
    """The real Qwen3 tokenizer, or the stand-in trained here."""
    return load_tokenizer(TOKENIZER_DIR)


def test_matrix_parameters_are_qwen3s_non_embedding_counts():
    # The Qwen3 technical report: 0.44B non-embedding parameters for the 0.6B shape, 6.95B for the 8B one.
    assert round(RERANKER_0_6B.matrix_params / 1e9, 2) == 0.44
    assert round(RERANKER_8B.matrix_params / 1e9, 2) == 6.95
    assert EMBEDDING_0_6B.matrix_params == RERANKER_0_6B.matrix_params


@pytest.mark.parametrize(("spec", "tokens", "floor_ms"), [
    (RERANKER_8B, 7900, 137),    # 20 passages of 80-512 tokens, one query (facts file, H200 at 800 TFLOP/s)
    (RERANKER_0_6B, 7900, 9),
    (RERANKER_8B, 4096, 71),     # one 4K-token passage
    (EMBEDDING_0_6B, 512 * 306, 170),  # 512 chunks of 100-512 tokens
])
def test_floors_match_the_facts_file(spec, tokens, floor_ms):
    assert floor_seconds(spec, tokens, 800.0) * 1e3 == pytest.approx(floor_ms, rel=0.05)


def test_floor_scales_with_tokens_and_peak():
    assert floor_seconds(RERANKER_8B, 2000, 400.0) == pytest.approx(4 * floor_seconds(RERANKER_8B, 1000, 800.0))


@pytest.mark.parametrize("spec", [*REAL_MODELS, tiny(RERANKER_8B)], ids=lambda s: f"{s.name}-{s.layers}layers")
def test_config_builds_the_shape_the_floor_counts(tmp_path, tokenizer, spec):
    import torch
    from transformers import AutoConfig, Qwen3ForCausalLM

    folder = write_config(tmp_path / spec.name, spec, tokenizer, "bfloat16")
    config = AutoConfig.from_pretrained(str(folder))
    with torch.device("meta"):
        model = Qwen3ForCausalLM(config)
    projections = sum(
        module.weight.numel() for name, module in model.model.layers.named_modules()
        if isinstance(module, torch.nn.Linear)
    )
    assert projections == spec.matrix_params
    assert config.vocab_size == 151669 and config.tie_word_embeddings == spec.tie_word_embeddings
    assert json.loads((folder / "config.json").read_text())["architectures"] == ["Qwen3ForCausalLM"]


def test_embedder_folder_pools_the_appended_eos_and_the_reranker_appends_nothing(tmp_path, tokenizer):
    from transformers import AutoTokenizer

    embedder = write_config(tmp_path / "embedding", EMBEDDING_0_6B, load_tokenizer(TOKENIZER_DIR), "bfloat16")
    reranker = write_config(tmp_path / "reranker", RERANKER_8B, load_tokenizer(TOKENIZER_DIR), "bfloat16")
    eos = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    assert AutoTokenizer.from_pretrained(str(embedder))("Parcelio")["input_ids"][-1] == eos
    assert AutoTokenizer.from_pretrained(str(reranker))("Parcelio")["input_ids"][-1] != eos
    pooling = json.loads((embedder / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_lasttoken"] and pooling["word_embedding_dimension"] == 1024
    assert not (reranker / "modules.json").exists()


def test_servers_get_deploy_compose_flags():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for role in ("reranker", "embedding"):
        assert services[role]["command"][0] == role
        assert services[role]["command"][2:] == COMPOSE_FLAGS[role]


def test_server_command_sets_prefix_caching_as_the_phase_says(tmp_path):
    flags = {phase.name: server_command(phase, tmp_path, SMOKE) for phase in PHASES}
    assert "--enable-prefix-caching" in flags["reranker-8b-prefix-on"]
    assert "--no-enable-prefix-caching" in flags["reranker-0.6b-prefix-off"]
    assert not any("prefix-caching" in flag for flag in flags["embedding-0.6b"])
    assert all(command[command.index("--load-format") + 1] == "dummy" for command in flags.values())


def test_every_question_and_chunk_is_fresh(tokenizer):
    workload = Workload(tokenizer, pool_size=40)
    questions = [workload.question() for _ in range(20)]
    assert len({query for query, _ in questions}) == 20
    assert all(len(set(passages)) == PASSAGES_PER_QUESTION for _, passages in questions)
    lengths = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in workload.passages]
    # Passages are cut at a token's end; tokenised again, a cut word may merge into a token or two more or fewer.
    assert abs(min(lengths) - PASSAGE_TOKENS[0]) <= 4 and abs(max(lengths) - PASSAGE_TOKENS[1]) <= 4
    chunks = workload.chunk_batch(16) + workload.chunk_batch(16)
    assert len(set(chunks)) == 32
