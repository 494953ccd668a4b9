"""The `polydesk rerank` and `polydesk embed` commands, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.models.rerank.local import QwenLocalReranker
from core.settings import WEB_SEARCH_INSTRUCTION

POLYDESK = str(Path(sys.executable).with_name("polydesk"))
DOCS = ["Send the refresh token to POST /v1/token/refresh.", "Pagination uses a cursor.", "429 means slow down."]


def polydesk(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run the installed console script with extra POLYDESK_* variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POLYDESK_")}
    return subprocess.run([POLYDESK, *args], env={**clean, **env}, capture_output=True, text=True, timeout=300)


def test_rerank_json_matches_the_reranker(reranker_dir):
    done = polydesk("rerank", "--query", "How do I refresh a token?", *sum((["--doc", d] for d in DOCS), []),
                    "--json", POLYDESK_RERANKER_MODEL=str(reranker_dir), POLYDESK_DEVICE="cpu")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    expected = QwenLocalReranker(reranker_dir, "x", WEB_SEARCH_INSTRUCTION).rerank("How do I refresh a token?", DOCS)
    assert [r["index"] for r in answer["results"]] == [r.index for r in expected]
    assert [r["score"] for r in answer["results"]] == pytest.approx([r.score for r in expected], abs=1e-6)
    assert answer["results"][0]["document"] == DOCS[expected[0].index]
    assert answer["instruction"] == WEB_SEARCH_INSTRUCTION


def test_rerank_table_with_instruction(reranker_dir):
    done = polydesk("rerank", "--query", "q", "--doc", "a", "--doc", "b", "--instruction", "Find API docs",
                    POLYDESK_RERANKER_MODEL=str(reranker_dir))
    assert done.returncode == 0, done.stderr
    assert "instruction: Find API docs" in done.stdout
    assert len([line for line in done.stdout.splitlines() if line.strip().startswith(("1 ", "2 "))]) == 2


def test_embed_json_documents_and_queries(embedder_dir):
    env = {"POLYDESK_EMBEDDING_MODEL": str(embedder_dir), "POLYDESK_EMBEDDING_DIM": "32"}
    documents = json.loads(polydesk("embed", "hello", "世界", "--json", **env).stdout)
    queries = json.loads(polydesk("embed", "hello", "世界", "--query", "--json", **env).stdout)
    assert documents["dim"] == 32 and len(documents["embeddings"]) == 2
    assert documents["embeddings"] != queries["embeddings"]
    assert sum(v * v for v in documents["embeddings"][0]) == pytest.approx(1.0, abs=1e-5)


def test_missing_model_is_a_message_not_a_traceback(tmp_path):
    done = polydesk("rerank", "--query", "q", "--doc", "d", HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path))
    assert done.returncode == 1
    assert "hf download Qwen/Qwen3-Reranker-0.6B" in done.stderr and "Traceback" not in done.stderr


def test_invalid_setting_is_named():
    done = polydesk("embed", "x", POLYDESK_EMBEDDING_URL="localhost:8000")
    assert done.returncode == 1 and "POLYDESK_EMBEDDING_URL: must be an http(s) URL" in done.stderr


def test_unreachable_server_is_a_message():
    done = polydesk("rerank", "--query", "q", "--doc", "d", POLYDESK_RERANKER_URL="http://127.0.0.1:9",
                    POLYDESK_HTTP_RETRIES="0")
    assert done.returncode == 1 and "cannot be reached" in done.stderr and "Traceback" not in done.stderr


def test_http_backends_do_not_import_torch():
    code = (
        "import sys; from core.settings import load_settings; from core.models.rerank import make_reranker; "
        "from core.models.embed import make_embedder; s = load_settings(reranker_url='http://127.0.0.1:9', "
        "embedding_url='http://127.0.0.1:9', embedding_dim=64); make_reranker(s); make_embedder(s); "
        "print('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.vllm
def test_rerank_against_vllm(vllm_servers, reranker_dir):
    server = vllm_servers["reranker"]
    remote = polydesk("rerank", "--query", "q", "--doc", DOCS[0], "--doc", DOCS[1], "--json",
                      POLYDESK_RERANKER_URL=server.url, POLYDESK_RERANKER_MODEL=server.model_name)
    local = polydesk("rerank", "--query", "q", "--doc", DOCS[0], "--doc", DOCS[1], "--json",
                     POLYDESK_RERANKER_MODEL=str(reranker_dir), POLYDESK_CPU_PROFILE="off")  # vLLM serves float32
    assert remote.returncode == 0, remote.stderr
    remote_scores = [r["score"] for r in json.loads(remote.stdout)["results"]]
    assert remote_scores == pytest.approx([r["score"] for r in json.loads(local.stdout)["results"]], abs=1e-5)


def test_admin_set_password_prints_a_hash_that_verifies():
    from core.admin.auth import verify_password
    from core.settings import load_settings

    done = subprocess.run([POLYDESK, "admin", "set-password"], input="correct horse battery\ncorrect horse battery\n",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if "export POLYDESK_ADMIN_PASSWORD_HASH=" in line)
    password_hash = line.split("=", 1)[1].strip().strip("'")
    assert "correct horse battery" not in done.stdout and verify_password(password_hash, "correct horse battery")
    settings = load_settings(admin_password_hash=password_hash)
    assert verify_password(settings.admin_password_hash.get_secret_value(), "correct horse battery")


@pytest.mark.parametrize(("typed", "message"), [("short\nshort\n", "at least 12"),
                                                ("correct horse battery\nother words here\n", "differ")])
def test_admin_set_password_refusals(typed, message):
    done = subprocess.run([POLYDESK, "admin", "set-password"], input=typed, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and message in done.stderr and "$argon2" not in done.stdout
