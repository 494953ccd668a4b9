"""What each configured model backend is and whether it can be used, checked cheaply."""

from __future__ import annotations

from dataclasses import replace

import httpx
from pydantic import SecretStr

from core.errors import PolydeskError
from core.model_source import cached_model_folder, hidden_size
from core.settings import Settings
from core.types import BackendStatus

PROBE_TIMEOUT_S = 3.0


def served_models(url: str, api_key: str | None = None) -> list[str]:
    """The model ids an OpenAI-compatible server lists at /v1/models; raises httpx.HTTPError."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    response = httpx.get(f"{url.removesuffix('/v1')}/v1/models", timeout=PROBE_TIMEOUT_S, headers=headers)
    response.raise_for_status()
    return [str(item["id"]) for item in response.json()["data"]]


def http_status(role: str, url: str, model_id: str, api_key: str | None = None) -> BackendStatus:
    """Reachable, and serving the configured model id?"""
    try:
        models = served_models(url, api_key)
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        return BackendStatus(role, "HTTP", model_id, url, False, f"not reachable: {type(exc).__name__}: {exc}")
    if model_id not in models:
        return BackendStatus(
            role, "HTTP", model_id, url, False,
            f"reachable, but it serves {', '.join(models) or 'no model'}; set the model id to one of these",
        )
    return BackendStatus(role, "HTTP", model_id, url, True, "reachable, model served")


def local_status(role: str, model_id: str, setting: str, url_setting: str, loaded: bool,
                 dimension: int | None = None) -> BackendStatus:
    """Is the checkpoint on disk (a folder or the hub cache), and is it loaded in this process?"""
    folder = cached_model_folder(model_id)
    if folder is None:
        return BackendStatus(
            role, "in-process", model_id, "not found", False,
            f"not a local folder and not in the Hugging Face cache: run `hf download {model_id}`, "
            f"set {setting} to a folder, or set {url_setting}",
        )
    if role == "embedding" and dimension is None:
        dimension = hidden_size(folder)
    state = "loaded" if loaded else "on disk, loads at first use"
    return BackendStatus(role, "in-process", model_id, str(folder), True, state, dimension)


def backend_statuses(settings: Settings, loaded: frozenset[str] = frozenset()) -> list[BackendStatus]:
    """The embedding, reranker and LLM backends; `loaded` names the roles already loaded in this process."""
    if settings.embedding_url:
        embedding = _with_server_dimension(settings, http_status(
            "embedding", settings.embedding_url, settings.embedding_model, _secret(settings.embedding_api_key)
        ))
    else:
        embedding = local_status("embedding", settings.embedding_model, "POLYDESK_EMBEDDING_MODEL",
                                 "POLYDESK_EMBEDDING_URL", "embedding" in loaded, settings.embedding_dim)
    if settings.reranker_url:
        reranker = http_status("reranker", settings.reranker_url, settings.reranker_model,
                               _secret(settings.reranker_api_key))
    else:
        reranker = local_status("reranker", settings.reranker_model, "POLYDESK_RERANKER_MODEL",
                                "POLYDESK_RERANKER_URL", "reranker" in loaded)
    statuses = [embedding, reranker]
    if settings.llm_url:
        statuses.append(http_status("LLM", settings.llm_url, settings.llm_model, _secret(settings.llm_api_key)))
    return statuses


def _with_server_dimension(settings: Settings, status: BackendStatus) -> BackendStatus:
    """The status of a reachable embedding server with its vector size (configured, or probed once)."""
    if not status.ok:
        return status
    from core.embed.openai_compat import OpenAICompatEmbedder

    try:
        dimension = OpenAICompatEmbedder.from_settings(settings).dim
    except PolydeskError as exc:
        return replace(status, ok=False, detail=str(exc))
    return replace(status, dimension=dimension)


def _secret(value: SecretStr | None) -> str | None:
    """The plain text of an optional secret."""
    return value.get_secret_value() if value else None
