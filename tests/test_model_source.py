"""Missing models fail at once with the model's name and the ways to fix it."""

from __future__ import annotations

import pytest

from core.errors import ModelNotAvailable
from core.models.embed import make_embedder
from core.models.embed.http import OpenAICompatEmbedder
from core.models.embed.local import QwenLocalEmbedder
from core.models.rerank import make_reranker
from core.models.rerank.http import VLLMReranker
from core.models.rerank.local import QwenLocalReranker
from core.models.source import resolve_model
from core.settings import load_settings


@pytest.fixture
def offline_cache(monkeypatch, tmp_path):
    """An empty Hugging Face cache and no hub."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_uncached_hub_model_names_the_fixes(offline_cache):
    with pytest.raises(ModelNotAvailable) as caught:
        make_reranker(load_settings(reranker_model="Qwen/Qwen3-Reranker-0.6B"))
    message = str(caught.value)
    assert "Qwen/Qwen3-Reranker-0.6B is not in the local Hugging Face cache" in message
    assert "hf download Qwen/Qwen3-Reranker-0.6B" in message
    assert "POLYDESK_RERANKER_MODEL" in message and "POLYDESK_RERANKER_URL" in message


def test_uncached_embedding_model_names_its_settings(offline_cache):
    with pytest.raises(ModelNotAvailable, match="POLYDESK_EMBEDDING_URL"):
        make_embedder(load_settings())


def test_missing_folder(tmp_path):
    with pytest.raises(ModelNotAvailable, match="neither an existing folder nor a Hugging Face model id"):
        resolve_model(str(tmp_path / "nope"), setting="POLYDESK_RERANKER_MODEL", url_setting="POLYDESK_RERANKER_URL")


def test_folder_without_checkpoint(tmp_path):
    with pytest.raises(ModelNotAvailable, match="holds no config.json"):
        resolve_model(str(tmp_path), setting="POLYDESK_EMBEDDING_MODEL", url_setting="POLYDESK_EMBEDDING_URL")


def test_factories_pick_the_backend(reranker_dir, embedder_dir):
    local = load_settings(reranker_model=str(reranker_dir), embedding_model=str(embedder_dir), device="cpu")
    assert isinstance(make_reranker(local), QwenLocalReranker)
    assert isinstance(make_embedder(local), QwenLocalEmbedder)
    remote = load_settings(reranker_url="http://127.0.0.1:9", embedding_url="http://127.0.0.1:9", embedding_dim=64)
    assert isinstance(make_reranker(remote), VLLMReranker)
    assert isinstance(make_embedder(remote), OpenAICompatEmbedder)
