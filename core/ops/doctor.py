"""Backend status and `polydesk doctor`: every configured backend checked, with a reranker probe that catches
broken server set-ups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from pydantic import SecretStr

from core.errors import BackendUnavailable, EmbeddingMismatch, PolydeskError
from core.knowledge.store import ChromaStore, check_embedder
from core.models.http_client import JsonClient, RetryPolicy
from core.models.rerank import Reranker
from core.models.source import cached_model_folder, hidden_size
from core.settings import Settings, redact_credentials
from core.types import BackendStatus

PROBE_TIMEOUT_S = 3.0
PROBE_RETRIES = 1  # a status probe answers quickly; the retry rule is the same as for every model server


def served_models(url: str, api_key: str | None = None, *, timeout: float = PROBE_TIMEOUT_S,
                  retry: RetryPolicy | None = None) -> list[str]:
    """The model ids an OpenAI-compatible server lists at /v1/models, under the one HTTP retry policy."""
    client = JsonClient(url.removesuffix("/v1"), name="The server", timeout=timeout, retries=PROBE_RETRIES,
                        api_key=api_key)
    client.retry = retry or client.retry
    try:
        return [str(item["id"]) for item in client.get("/v1/models")["data"]]
    finally:
        client.close()


def http_status(role: str, url: str, model_id: str, api_key: str | None = None) -> BackendStatus:
    """Reachable, and serving the configured model id?"""
    try:
        models = served_models(url, api_key)
    except BackendUnavailable as exc:
        return BackendStatus(role, "HTTP", model_id, url, False, f"not reachable: {exc}")
    except (ValueError, KeyError, TypeError) as exc:
        return BackendStatus(role, "HTTP", model_id, url, False,
                             f"reachable, but /v1/models is not an OpenAI model list: {type(exc).__name__}: {exc}")
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
    from core.models.embed.http import OpenAICompatEmbedder

    try:
        dimension = OpenAICompatEmbedder.from_settings(settings).dim
    except PolydeskError as exc:
        return replace(status, ok=False, detail=str(exc))
    return replace(status, dimension=dimension)


def _secret(value: SecretStr | None) -> str | None:
    """The plain text of an optional secret."""
    return value.get_secret_value() if value else None


PROBE_QUERY = "How do I refresh an expired access token?"
PROBE_RELEVANT = "To refresh an expired access token, send the refresh token to POST /v1/token/refresh."
PROBE_IRRELEVANT = "Parcels heavier than 30 kg are shipped as freight on a pallet."
EQUAL_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Check:
    """One row of the doctor's table; state is "ok", "warn" (works, but look at it) or "fail"."""

    name: str
    state: str
    detail: str
    model: str = ""
    where: str = ""
    dimension: int | None = None


@dataclass(frozen=True)
class Diagnosis:
    """All checks of one configuration; healthy when none failed."""

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """True when no check failed (warnings allowed)."""
        return all(check.state != "fail" for check in self.checks)

    def to_dict(self) -> dict:
        """Plain data for --json."""
        return {"ok": self.ok, "checks": [asdict(check) for check in self.checks]}


def diagnose(settings: Settings, *, loaded: frozenset[str] = frozenset(),
             store: Callable[[], ChromaStore] | None = None,
             reranker: Callable[[], Reranker] | None = None) -> Diagnosis:
    """Check the backends, the store and its collections, the answer log database; probe the reranker if given."""
    statuses = {s.role: s for s in backend_statuses(settings, loaded)}
    checks = [_from_status(statuses["embedding"]), _from_status(statuses["reranker"])]
    if reranker is not None and statuses["reranker"].ok:
        checks.append(probe_reranker(reranker))
    checks.append(_llm_check(settings, statuses.get("LLM"), loaded))
    checks += _store_checks(settings, statuses["embedding"], store or (lambda: ChromaStore.from_settings(settings)))
    checks.append(_database_check(settings))
    return Diagnosis(tuple(replace(c, where=redact_credentials(c.where), detail=redact_credentials(c.detail))
                           for c in checks))


def probe_reranker(reranker: Callable[[], Reranker]) -> Check:
    """Score a relevant and an irrelevant passage: equal scores (often a constant 0.5) mean a broken set-up."""
    try:
        model = reranker()
        scores = {r.index: r.score for r in model.rerank(PROBE_QUERY, [PROBE_RELEVANT, PROBE_IRRELEVANT])}
    except PolydeskError as exc:
        return Check("reranker probe", "fail", str(exc))
    relevant, irrelevant = scores.get(0), scores.get(1)
    if relevant is None or irrelevant is None:
        return Check("reranker probe", "fail", f"asked for 2 scores, got {len(scores)}", model.model_id)
    shown = f"relevant passage {relevant:.4f}, irrelevant passage {irrelevant:.4f}"
    if abs(relevant - irrelevant) <= EQUAL_TOLERANCE:
        return Check("reranker probe", "fail", f"{shown}: {_equal_scores_cause(relevant)}", model.model_id)
    if relevant < irrelevant:
        return Check("reranker probe", "warn", f"{shown}: the irrelevant passage scored higher. A real Qwen3-Reranker "
                     "does not do that; check the prompt set-up (deploy/serve.sh reranker, no --chat-template).",
                     model.model_id)
    return Check("reranker probe", "ok", shown, model.model_id)


def _equal_scores_cause(score: float) -> str:
    """Why a reranker gives every passage the same score, and the fix."""
    constant = "every passage gets 0.5" if abs(score - 0.5) <= 1e-3 else "every passage gets the same score"
    return (f"{constant}, so the ranking is meaningless. The server lacks the Qwen3 yes/no score head or formats "
            "the prompt wrongly: start it with `deploy/serve.sh reranker MODEL` (--runner pooling and the "
            "--hf-overrides with classifier_from_token [\"no\", \"yes\"], and no --chat-template).")


def _from_status(status: BackendStatus) -> Check:
    """A backend status as a check row."""
    return Check(status.role, "ok" if status.ok else "fail", status.detail, status.model_id, status.location,
                 status.dimension)


def _llm_check(settings: Settings, status: BackendStatus | None, loaded: frozenset[str]) -> Check:
    """The chat model: a server, an in-process checkpoint, or off; without one, answers fall back to passages."""
    if settings.llm == "off":
        return Check("LLM", "ok", "off (POLYDESK_LLM=off): answers are the best passages")
    if status is None:
        status = local_status("LLM", settings.llm_model, "POLYDESK_LLM_MODEL", "POLYDESK_LLM_URL", "LLM" in loaded)
    check = _from_status(status)
    if check.state == "fail":
        return Check(check.name, "warn", f"{check.detail}; answers fall back to the best passages", check.model,
                     check.where)
    return check


def _store_checks(settings: Settings, embedding: BackendStatus, store: Callable[[], ChromaStore]) -> list[Check]:
    """The Chroma store, and every collection's embedding model and dimension against the configured embedder."""
    try:
        opened = store()
        collections = opened.collections()
    except PolydeskError as exc:
        return [Check("store", "fail", str(exc), where=settings.chroma_url or str(settings.chroma_path))]
    checks = [Check("store", "ok", f"{len(collections)} collection(s)", where=opened.location)]
    for info in collections:
        name, model = f"collection {info.name}", info.embedding_model
        if embedding.dimension is None:
            checks.append(Check(name, "warn", "not compared: the embedding backend is not available", model,
                                dimension=info.embedding_dim))
            continue
        try:
            check_embedder(info, embedding.model_id, embedding.dimension)
        except EmbeddingMismatch as exc:
            checks.append(Check(name, "fail", str(exc), model, dimension=info.embedding_dim))
        else:
            checks.append(Check(name, "ok", f"{info.chunks} chunks, same embedder", model,
                                dimension=info.embedding_dim))
    return checks


def _database_check(settings: Settings) -> Check:
    """The answer log's database opens (and has its table)."""
    from core.answers.answer_log import AnswerLog

    try:
        database = AnswerLog(settings.database_url)
    except PolydeskError as exc:
        return Check("database", "fail", str(exc))
    database.close()
    return Check("database", "ok", "answers and ratings can be kept", where=database.location)


def render_table(diagnosis: Diagnosis) -> str:
    """The checks as a plain-text table, then a verdict line."""
    rows = [("check", "state", "model", "dim", "where", "detail")]
    rows += [(c.name, c.state.upper() if c.state != "ok" else "ok", c.model or "-",
              str(c.dimension) if c.dimension else "-", c.where or "-", c.detail) for c in diagnosis.checks]
    widths = [min(max(len(row[i]) for row in rows), 48) for i in range(5)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:5], widths, strict=True)) + "  " + row[5]
             for row in rows]
    failed = [c.name for c in diagnosis.checks if c.state == "fail"]
    verdict = f"{len(failed)} check(s) failed: {', '.join(failed)}" if failed else "All checks passed."
    return "\n".join([*lines, "", verdict])
