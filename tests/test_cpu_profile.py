"""CPU profile: native bfloat16 detection and its fall back to float32, embedding batches cut by token lengths, and
the Ask page's note on what runs on the CPU."""

from pathlib import Path

import numpy as np
import torch
from streamlit.testing.v1 import AppTest

from core.models.batching import token_batches
from core.models.device import cpu_has_native_bf16, preferred_dtype
from core.models.embed.local import CPU_BATCH_TOKENS, QwenLocalEmbedder
from core.ops.cpu_note import cpu_note
from core.settings import load_settings

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")

WITH_BF16 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_tile\n"
WITHOUT_BF16 = "processor\t: 0\nflags\t\t: fpu sse2 avx2\n"
DOCUMENTS = [
    "Labels are reprinted with GET /v1/shipments/{id}/label.",
    "x",
    "Eine Sendung wird mit DELETE /v1/shipments/{id} storniert, solange sie nicht abgeholt wurde; danach "
    "öffnen Sie eine Rücksendung.",
    "ラベルは何度でも再印刷できます。",
    "Webhook signatures use HMAC-SHA256 over the raw body.",
    "Límite: 600 peticiones por minuto.",
]


def test_detection_reads_flags():
    assert cpu_has_native_bf16(WITH_BF16)
    assert not cpu_has_native_bf16(WITHOUT_BF16)
    assert not cpu_has_native_bf16("")


def test_cpu_dtype_falls_back_to_float32_without_native_bf16():
    assert preferred_dtype("cpu", cpu_profile=True, cpuinfo=WITHOUT_BF16) == torch.float32


def test_cpu_dtype_is_bfloat16_with_profile_on_and_native_support():
    assert preferred_dtype("cpu", cpu_profile=True, cpuinfo=WITH_BF16) == torch.bfloat16


def test_profile_off_keeps_float32():
    assert preferred_dtype("cpu", cpu_profile=False, cpuinfo=WITH_BF16) == torch.float32


def test_token_batches_group_neighbours_in_length_within_the_padded_budget():
    assert token_batches([100, 10, 90, 500, 20, 30], max_tokens=200, max_items=16) == [[3], [0, 2], [5, 4, 1]]
    assert token_batches([10] * 5, max_tokens=200, max_items=2) == [[0, 1], [2, 3], [4]]
    assert token_batches([], max_tokens=200, max_items=2) == []


def test_the_profile_batches_embeddings_by_tokens_on_a_cpu_only(embedder_dir: Path):
    def budget(**overrides) -> int | None:
        return QwenLocalEmbedder.from_settings(load_settings(embedding_model=str(embedder_dir), **overrides)
                                               ).max_batch_tokens

    assert budget(device="cpu") == CPU_BATCH_TOKENS
    assert budget(device="cpu", cpu_profile=False) is None


def test_batches_by_tokens_give_each_text_its_own_vector(embedder_dir: Path):
    # float32 both: in bfloat16 a batch's padding moves vectors, which would hide a mix-up of rows
    plain = QwenLocalEmbedder(embedder_dir, "tiny", "find it", cpu_profile=False)
    lengths = [len(ids) for ids in plain._model.tokenizer(DOCUMENTS, add_special_tokens=False)["input_ids"]]
    budget = 3 * sorted(lengths)[len(lengths) // 2]
    assert 1 < len(token_batches(lengths, budget, 16)) < len(DOCUMENTS)
    by_tokens = QwenLocalEmbedder(embedder_dir, "tiny", "find it", cpu_profile=False, max_batch_tokens=budget)
    expected = np.stack([plain.embed_documents([text])[0] for text in DOCUMENTS])
    np.testing.assert_allclose(by_tokens.embed_documents(DOCUMENTS), expected, atol=1e-5)
    np.testing.assert_allclose(plain.embed_documents(DOCUMENTS), expected, atol=1e-5)


def test_the_cpu_note_says_what_runs_here_and_what_a_gpu_or_vllm_would_change():
    note = cpu_note(load_settings(device="cpu"))
    assert note is not None
    assert "the embedding model, the reranker and the language model run in this process" in note
    assert "reads 10 passages, the first 256 tokens of each" in note and "rerank 30 whole passages" in note
    assert "POLYDESK_DEVICE=cuda" in note and "POLYDESK_EMBEDDING_URL, POLYDESK_RERANKER_URL, POLYDESK_LLM_URL" in note
    off = cpu_note(load_settings(device="cpu", cpu_profile=False, llm="off"))
    assert off is not None and "reads 30 passages, in float32" in off and "whole" not in off
    assert "language model" not in off and "POLYDESK_LLM_URL" not in off
    served = cpu_note(load_settings(device="cpu", reranker_url="http://127.0.0.1:9", llm_url="http://127.0.0.1:9"))
    assert served is not None and "the embedding model runs in this process" in served and "reranker" not in served
    assert cpu_note(load_settings(device="cpu", embedding_url="http://127.0.0.1:9",
                                  reranker_url="http://127.0.0.1:9", llm="off")) is None
    assert cpu_note(load_settings(device="cuda")) is None


def test_the_ask_page_shows_the_cpu_note_in_its_sidebar(monkeypatch, sample_pipeline, reranker_dir, embedder_dir):
    for name, value in {"POLYDESK_EMBEDDING_MODEL": str(embedder_dir), "POLYDESK_RERANKER_MODEL": str(reranker_dir),
                        "POLYDESK_CHROMA_PATH": str(sample_pipeline.settings.chroma_path), "POLYDESK_DEVICE": "cpu",
                        "POLYDESK_LLM": "off"}.items():
        monkeypatch.setenv(name, value)
    app = AppTest.from_file(APP, default_timeout=300).run()
    assert not app.exception, app.exception
    notes = [c.value for c in app.sidebar.caption if "computer's CPU" in c.value]
    assert notes == [cpu_note(load_settings())], "one caption, from the page's own settings"
    assert "the embedding model and the reranker run in this process" in notes[0]
