"""The CLI refuses unusable arguments with a message and exit code 2; core refuses too long questions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import BadInput
from core.pipeline import Pipeline
from core.settings import load_settings

POLYDESK = str(Path(sys.executable).with_name("polydesk"))


def polydesk(*args: str | bytes, **env: str) -> subprocess.CompletedProcess:
    """Run the installed console script in a UTF-8 locale with extra POLYDESK_* variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POLYDESK_")}
    return subprocess.run([POLYDESK, *args], env={**clean, "LC_ALL": "C.UTF-8", **env}, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize(("args", "message"), [
    (["ask", "   ", "--collection", "api"], "the question is empty"),
    (["search", "", "--collection", "api"], "the question is empty"),
    (["search", "refresh token", "--collection", "api", "--top-n", "0"], "must be 1 or more, got 0"),
    (["search", "refresh token", "--collection", "api", "--top-n", "-5"], "must be 1 or more, got -5"),
    (["eval", "--collection", "api", "--qrels", "q.jsonl", "--k", "0"], "must be 1 or more, got 0"),
    (["ask", "Wie erneuere ich ein Token?", "--collection", "api", "--language", "xx"],
     "'xx' is not a known ISO 639-1 language code"),
    (["search", "token", "--collection", "api", "--language", "klingon"], "is not a known ISO 639-1"),
])
def test_unusable_arguments_are_refused(args, message):
    done = polydesk(*args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_invalid_utf8_argument_is_refused():
    done = polydesk(b"ask", b"caf\xe9 token?", b"--collection", b"api")
    assert done.returncode == 2, done.stderr
    assert "is not valid UTF-8" in done.stderr and "Traceback" not in done.stderr


def test_known_language_tags_are_accepted(tmp_path):
    done = polydesk("search", "token", "--collection", "missing", "--language", "pt-BR", "--language", "JA",
                    POLYDESK_CHROMA_PATH=str(tmp_path / "chroma"))
    assert "not a known ISO 639-1" not in done.stderr


def test_too_long_question_is_refused_in_core(tmp_path):
    pipeline = Pipeline(load_settings(chroma_path=tmp_path / "chroma", max_question_chars=50))
    with pytest.raises(BadInput, match="51 characters, more than the limit of 50.*POLYDESK_MAX_QUESTION_CHARS"):
        pipeline.search("x" * 51, ["api"])
    with pytest.raises(BadInput, match="empty"):
        pipeline.ask(" \n", ["api"])


def test_too_long_question_is_a_cli_message(tmp_path):
    done = polydesk("ask", "ａ" * 4001, "--collection", "api", POLYDESK_CHROMA_PATH=str(tmp_path / "chroma"))
    assert done.returncode == 1
    assert "more than the limit of 4,000" in done.stderr and "Traceback" not in done.stderr


def test_ingest_of_deeply_nested_files_reports_each_and_goes_on(tmp_path, embedder_dir):
    from tests.test_admin import deep_files

    folder = tmp_path / "docs"
    folder.mkdir()
    last = "# Sendungen\n\nEine Sendung verfolgen: GET /v1/parcels.\n"
    for name, text in {**deep_files(), "zz-last.md": last}.items():
        (folder / name).write_text(text, encoding="utf-8")
    done = polydesk("ingest", str(folder), "--collection", "tief", "--json", POLYDESK_EMBEDDING_MODEL=str(embedder_dir),
                    POLYDESK_CHROMA_PATH=str(tmp_path / "chroma"), POLYDESK_DEVICE="cpu")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    statuses = {f["source"]: f["status"] for f in json.loads(done.stdout)["files"]}
    assert statuses == {"deep.html": "failed", "deep.json": "failed", "front.md": "failed", "schema.json": "ok",
                        "zz-last.md": "ok"}
