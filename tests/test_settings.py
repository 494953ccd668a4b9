"""Settings come from POLYDESK_* variables and secrets.toml, and bad values are named with their fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import WEB_SEARCH_INSTRUCTION, load_settings


def test_defaults():
    settings = load_settings()
    assert settings.embedding_model == "Qwen/Qwen3-Embedding-0.6B"
    assert settings.reranker_model == "Qwen/Qwen3-Reranker-0.6B"
    assert settings.embedding_instruction == settings.reranker_instruction == WEB_SEARCH_INSTRUCTION
    assert settings.embedding_url is None and settings.reranker_url is None and settings.embedding_dim is None
    assert settings.chroma_path == Path("data/chroma") and settings.device == "auto"


def test_environment(monkeypatch):
    monkeypatch.setenv("POLYDESK_RERANKER_URL", "http://gpu-host:8001/")
    monkeypatch.setenv("POLYDESK_EMBEDDING_DIM", "256")
    monkeypatch.setenv("POLYDESK_DEVICE", "cpu")
    monkeypatch.setenv("POLYDESK_LLM_API_KEY", "sk-secret")
    settings = load_settings()
    assert settings.reranker_url == "http://gpu-host:8001"
    assert settings.embedding_dim == 256 and settings.device == "cpu"
    assert settings.llm_api_key.get_secret_value() == "sk-secret" and "sk-secret" not in repr(settings)


def test_secrets_toml_below_environment(monkeypatch, tmp_path):
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(
        '[polydesk]\nreranker_url = "http://from-secrets:8001"\nembedding_model = "/models/emb"\n'
        '[auth]\nredirect_uri = "http://x"\n'
    )
    monkeypatch.setenv("POLYDESK_EMBEDDING_MODEL", "/models/from-env")
    settings = load_settings()
    assert settings.reranker_url == "http://from-secrets:8001"
    assert settings.embedding_model == "/models/from-env"


def test_broken_secrets_toml(tmp_path):
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text("[polydesk\n")
    with pytest.raises(ConfigError, match="secrets.toml is not valid TOML"):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("POLYDESK_DEVICE", "tpu", "POLYDESK_DEVICE: Input should be 'auto', 'cpu', 'cuda' or 'mps'"),
        ("POLYDESK_EMBEDDING_DIM", "-8", "POLYDESK_EMBEDDING_DIM: Input should be greater than or equal to 32"),
        ("POLYDESK_RERANKER_URL", "localhost:8001", "POLYDESK_RERANKER_URL: must be an http(s) URL"),
        ("POLYDESK_EMBEDDING_URL", "ftp://host", "POLYDESK_EMBEDDING_URL: must be an http(s) URL"),
        ("POLYDESK_HTTP_TIMEOUT", "0", "POLYDESK_HTTP_TIMEOUT: Input should be greater than 0"),
        ("POLYDESK_RERANKER_MODEL", "  ", "POLYDESK_RERANKER_MODEL: must not be empty"),
    ],
)
def test_invalid_values_name_the_variable(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert message in str(caught.value)


def test_empty_url_means_unset(monkeypatch):
    monkeypatch.setenv("POLYDESK_RERANKER_URL", "")
    assert load_settings().reranker_url is None
