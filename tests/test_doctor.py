"""`polydesk doctor` and the pages' status: real tiny models, real vLLM, loopback fakes of broken servers."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.errors import BackendUnavailable
from core.knowledge.store import ChromaStore
from core.models.rerank import make_reranker
from core.models.rerank.http import VLLMReranker
from core.ops.doctor import PROBE_RELEVANT, Diagnosis, diagnose, render_table
from core.ops.startup import startup
from core.settings import WEB_SEARCH_INSTRUCTION, Settings, load_settings
from tests.conftest import ROOT, tiny_settings
from tests.fake_servers import as_json, refused_url, serve
from tests.test_cli import polydesk

Scorer = Callable[[list[str]], list[float]]


@contextmanager
def fake_vllm_reranker(model: str, scores: Scorer) -> Iterator[str]:
    """A loopback server that lists `model` at /v1/models and answers /v1/rerank with `scores(documents)`."""

    def rerank(body: dict) -> tuple[int, bytes]:
        results = [{"index": i, "document": {"text": d}, "relevance_score": s}
                   for i, (d, s) in enumerate(zip(body["documents"], scores(body["documents"]), strict=True))]
        return as_json(200, {"id": "rerank-1", "model": model, "usage": {"prompt_tokens": 1, "total_tokens": 1},
                             "results": sorted(results, key=lambda r: -r["relevance_score"])})(body)

    with serve(rerank, get=as_json(200, {"object": "list", "data": [{"id": model, "object": "model"}]})) as (url, _):
        yield url


def constant(score: float) -> Scorer:
    """Every document gets `score`, as a server without the yes/no score head answers."""
    return lambda documents: [score] * len(documents)


def relevant_scores(relevant: float, other: float) -> Scorer:
    """The probe's relevant passage gets `relevant`, every other document `other`."""
    return lambda documents: [relevant if PROBE_RELEVANT in d else other for d in documents]


def check(diagnosis: Diagnosis, name: str):
    """The check of that name."""
    return next(c for c in diagnosis.checks if c.name == name)


def served_settings(tmp_path: Path, **values: object) -> Settings:
    """Settings with a store of the test's own and the given backends."""
    return load_settings(chroma_path=tmp_path / "chroma", device="cpu", **values)


def run_doctor(settings: Settings) -> Diagnosis:
    """The doctor as the CLI runs it: with the reranker probe."""
    return diagnose(settings, reranker=lambda: make_reranker(settings))


def test_in_process_tiny_models_pass(tmp_path, reranker_dir, embedder_dir):
    settings = tiny_settings(reranker_dir, embedder_dir, tmp_path / "chroma")
    ChromaStore.from_settings(settings).open_for_ingest("docs", str(embedder_dir), 64)
    diagnosis = run_doctor(settings)
    assert diagnosis.ok, render_table(diagnosis)
    names = [c.name for c in diagnosis.checks]
    assert names == ["embedding", "reranker", "reranker probe", "LLM", "store", "collection docs", "database"]
    assert check(diagnosis, "embedding").dimension == 64
    probe = check(diagnosis, "reranker probe")
    assert probe.state in ("ok", "warn") and "relevant passage" in probe.detail
    relevant, irrelevant = (float(part.split()[-1]) for part in probe.detail.split(":")[0].split(", "))
    assert relevant != irrelevant
    assert check(diagnosis, "collection docs").state == "ok"


@pytest.mark.parametrize(("score", "cause"), [(0.5, "every passage gets 0.5"), (0.73, "the same score")],
                         ids=["constant-0.5", "constant-other"])
def test_constant_reranker_scores_fail_with_the_fix(tmp_path, embedder_dir, score, cause):
    with fake_vllm_reranker("Qwen/Qwen3-Reranker-8B", constant(score)) as url:
        settings = served_settings(tmp_path, embedding_model=str(embedder_dir), reranker_url=url,
                                   reranker_model="Qwen/Qwen3-Reranker-8B")
        diagnosis = run_doctor(settings)
    assert not diagnosis.ok
    assert check(diagnosis, "reranker").state == "ok"
    probe = check(diagnosis, "reranker probe")
    assert probe.state == "fail" and cause in probe.detail and "deploy/serve.sh reranker" in probe.detail
    assert "1 check(s) failed: reranker probe" in render_table(diagnosis)


def test_inverted_ranking_is_a_warning(tmp_path, embedder_dir):
    with fake_vllm_reranker("r", relevant_scores(0.1, 0.9)) as url:
        settings = served_settings(tmp_path, embedding_model=str(embedder_dir), reranker_url=url,
                                   reranker_model="r")
        diagnosis = run_doctor(settings)
    probe = check(diagnosis, "reranker probe")
    assert diagnosis.ok and probe.state == "warn" and "irrelevant passage scored higher" in probe.detail


def test_cli_fails_on_constant_scores(tmp_path, embedder_dir):
    with fake_vllm_reranker("r", constant(0.5)) as url:
        done = polydesk("doctor", POLYDESK_RERANKER_URL=url, POLYDESK_RERANKER_MODEL="r",
                        POLYDESK_EMBEDDING_MODEL=str(embedder_dir), POLYDESK_CHROMA_PATH=str(tmp_path / "chroma"),
                        POLYDESK_DATABASE_URL=f"sqlite:///{tmp_path / 'feedback.db'}", POLYDESK_LLM="off")
    assert done.returncode == 1, done.stdout + done.stderr
    probe_line = next(line for line in done.stdout.splitlines() if line.startswith("reranker probe"))
    assert "FAIL" in probe_line and "every passage gets 0.5" in probe_line
    assert "Traceback" not in done.stderr


def test_cli_unreachable_reranker_json(tmp_path, embedder_dir):
    url = refused_url()
    env = {"POLYDESK_RERANKER_URL": url, "POLYDESK_EMBEDDING_MODEL": str(embedder_dir), "POLYDESK_HTTP_RETRIES": "0",
           "POLYDESK_CHROMA_PATH": str(tmp_path / "chroma"), "POLYDESK_LLM": "off",
           "POLYDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'feedback.db'}"}
    table = polydesk("doctor", **env)
    assert table.returncode == 1 and "Traceback" not in table.stderr
    line = next(line for line in table.stdout.splitlines() if line.startswith("reranker "))
    assert "FAIL" in line and url in line and "not reachable" in line
    done = polydesk("doctor", "--json", **env)
    answer = json.loads(done.stdout)
    assert done.returncode == 1 and answer["ok"] is False
    states = {c["name"]: c["state"] for c in answer["checks"]}
    assert states == {"embedding": "ok", "reranker": "fail", "LLM": "ok", "store": "ok", "database": "ok"}


@pytest.mark.parametrize(("model", "dim"), [("same", 32), ("Qwen/Qwen3-Embedding-8B", 64)],
                         ids=["other-dimension", "other-model"])
def test_collection_embedded_differently_is_flagged(tmp_path, reranker_dir, embedder_dir, model, dim):
    settings = tiny_settings(reranker_dir, embedder_dir, tmp_path / "chroma")
    store = ChromaStore.from_settings(settings)
    store.open_for_ingest("good", str(embedder_dir), 64)
    store.open_for_ingest("old", str(embedder_dir) if model == "same" else model, dim)
    diagnosis = diagnose(settings)
    assert not diagnosis.ok and check(diagnosis, "collection good").state == "ok"
    flagged = check(diagnosis, "collection old")
    assert flagged.state == "fail" and flagged.dimension == dim
    assert f"at {dim} dimensions, but the configured embedder is {embedder_dir} at 64" in flagged.detail
    assert "polydesk collections delete old" in flagged.detail


def test_unreachable_store_and_bad_database_fail(tmp_path, reranker_dir, embedder_dir):
    settings = tiny_settings(reranker_dir, embedder_dir, tmp_path / "chroma", chroma_url=refused_url(),
                             database_url="postgresql+nosuchdriver://u@localhost/polydesk")
    diagnosis = diagnose(settings)
    store, database = check(diagnosis, "store"), check(diagnosis, "database")
    assert store.state == "fail" and "cannot be reached" in store.detail
    assert database.state == "fail" and "POLYDESK_DATABASE_URL" in database.detail
    assert not any(c.name.startswith("collection ") for c in diagnosis.checks)


def test_missing_in_process_llm_is_a_warning_only(tmp_path, reranker_dir, embedder_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    diagnosis = diagnose(tiny_settings(reranker_dir, embedder_dir, tmp_path / "chroma"))
    llm = check(diagnosis, "LLM")
    assert diagnosis.ok and llm.state == "warn" and "hf download Qwen/Qwen3-0.6B" in llm.detail


STATUS_PAGE = str(ROOT / "pages" / "5_Status.py")
ASK_PAGE = str(ROOT / "streamlit_app.py")


def page_env(monkeypatch, tmp_path: Path, embedder_dir: Path, reranker_url: str) -> None:
    """Settings for a page run: the tiny embedder in-process, the reranker at `reranker_url`."""
    monkeypatch.setenv("POLYDESK_CHROMA_PATH", str(tmp_path / "chroma"))
    monkeypatch.setenv("POLYDESK_EMBEDDING_MODEL", str(embedder_dir))
    monkeypatch.setenv("POLYDESK_RERANKER_URL", reranker_url)
    monkeypatch.setenv("POLYDESK_RERANKER_MODEL", "r")
    monkeypatch.setenv("POLYDESK_LLM", "off")
    monkeypatch.setenv("POLYDESK_DEVICE", "cpu")


def test_status_page_shows_the_failed_probe(monkeypatch, tmp_path, embedder_dir):
    with fake_vllm_reranker("r", constant(0.5)) as url:
        page_env(monkeypatch, tmp_path, embedder_dir, url)
        app = AppTest.from_file(STATUS_PAGE, default_timeout=120).run()
        assert startup(load_settings()).wait_sample(300), "the first-start sample ingest runs in the background"
        app.run()
    assert not app.exception
    table = app.dataframe[0].value
    states = dict(zip(table["check"], table["state"], strict=True))
    assert states["reranker"] == "✅" and states["reranker probe"] == "❌"
    assert states["collection parcelio-sample"] == "✅"
    assert any("every passage gets 0.5" in w.value for w in app.warning)


def health_lines(app: AppTest) -> list[str]:
    """The sidebar's health light: captions that start with a coloured dot."""
    return [c.value for c in app.sidebar.caption if c.value[:1] in "🟢🟠🔴"]


def test_ask_sidebar_keeps_one_health_line(monkeypatch, tmp_path, embedder_dir):
    with fake_vllm_reranker("r", constant(0.5)) as url:
        page_env(monkeypatch, tmp_path, embedder_dir, url)
        app = AppTest.from_file(ASK_PAGE, default_timeout=120).run()
    assert not app.exception
    assert health_lines(app) == ["🟢 All systems ready"]
    sidebar = " ".join(c.value for c in app.sidebar.caption)
    assert str(embedder_dir) not in sidebar and "**embedding**" not in sidebar, "model paths are on Status only"


def test_ask_sidebar_points_to_the_status_page_when_a_check_fails(monkeypatch, tmp_path, embedder_dir):
    page_env(monkeypatch, tmp_path, embedder_dir, refused_url())
    monkeypatch.setenv("POLYDESK_HTTP_RETRIES", "0")
    app = AppTest.from_file(ASK_PAGE, default_timeout=120).run()
    assert not app.exception
    [line] = health_lines(app)
    assert line.startswith("🔴 ") and line.endswith("need attention: see the Status page")


@pytest.mark.vllm
def test_doctor_against_real_vllm(vllm_servers, tmp_path, embedder_dir):
    reranker, embedding = vllm_servers["reranker"], vllm_servers["embedding"]
    settings = served_settings(tmp_path, http_timeout=60, reranker_url=reranker.url,
                               reranker_model=reranker.model_name, embedding_url=embedding.url,
                               embedding_model=embedding.model_name, llm="off")
    store = ChromaStore.from_settings(settings)
    store.open_for_ingest("served", embedding.model_name, 64)
    store.open_for_ingest("smaller", embedding.model_name, 32)
    diagnosis = run_doctor(settings)
    states = {c.name: c.state for c in diagnosis.checks}
    assert states["embedding"] == states["reranker"] == states["collection served"] == "ok"
    assert check(diagnosis, "embedding").dimension == 64
    assert states["reranker probe"] in ("ok", "warn"), check(diagnosis, "reranker probe").detail
    assert states["collection smaller"] == "fail" and not diagnosis.ok


@pytest.mark.vllm
def test_model_the_server_does_not_serve(vllm_servers, tmp_path):
    server = vllm_servers["reranker"]
    settings = served_settings(tmp_path, reranker_url=server.url, reranker_model="Qwen/Qwen3-Reranker-8B", llm="off")
    diagnosis = run_doctor(settings)
    reranker = check(diagnosis, "reranker")
    assert reranker.state == "fail" and f"it serves {server.model_name}" in reranker.detail
    assert "reranker probe" not in [c.name for c in diagnosis.checks]
    client = VLLMReranker(server.url, "Qwen/Qwen3-Reranker-8B", WEB_SEARCH_INSTRUCTION, timeout=60)
    with pytest.raises(BackendUnavailable, match="HTTP 404.*Qwen/Qwen3-Reranker-8B"):
        client.rerank("q", ["a", "b"])


@pytest.fixture
def ingested(tmp_path, reranker_dir, embedder_dir) -> Path:
    """A store whose collection `docs` was embedded with the tiny embedder; returns the store's folder."""
    from core.pipeline import Pipeline
    from tests.conftest import SAMPLE

    chroma = tmp_path / "chroma"
    assert not Pipeline(tiny_settings(reranker_dir, embedder_dir, chroma)).ingest([SAMPLE / "en" / "errors.md"],
                                                                                  "docs").failed
    return chroma


def test_search_with_another_embedding_model_is_a_clear_error(ingested, tmp_path, reranker_dir, embedder_dir):
    other = shutil.copytree(embedder_dir, tmp_path / "other-embedder")  # same dimension, another model id
    done = polydesk("search", "429", "--collection", "docs", POLYDESK_CHROMA_PATH=str(ingested),
                    POLYDESK_EMBEDDING_MODEL=str(other), POLYDESK_RERANKER_MODEL=str(reranker_dir))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"error: Collection 'docs' was embedded with {embedder_dir} at 64 dimensions, but the configured " \
           f"embedder is {other} at 64" in done.stderr
    assert "polydesk collections delete docs" in done.stderr


@pytest.mark.parametrize("setting", ["POLYDESK_RERANKER_MODEL", "POLYDESK_EMBEDDING_MODEL"])
def test_search_with_a_model_that_does_not_exist_is_a_clear_error(ingested, tmp_path, reranker_dir, embedder_dir,
                                                                  setting):
    env = {"POLYDESK_CHROMA_PATH": str(ingested), "POLYDESK_EMBEDDING_MODEL": str(embedder_dir),
           "POLYDESK_RERANKER_MODEL": str(reranker_dir), setting: str(tmp_path / "no-such-model")}
    done = polydesk("search", "429", "--collection", "docs", **env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "neither an existing folder nor a Hugging Face model id" in done.stderr and setting in done.stderr
