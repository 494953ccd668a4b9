"""`polydesk ask --conversation` and `polydesk reply`, with the LLM off, on the sample collection."""

from __future__ import annotations

import io
import json

import pytest

from core.ops.cli import main

FOLLOW_UP = "And how long is it valid?"
TICKET = "Bonjour, nos envois échouent avec une erreur 401. Combien de temps un jeton d'accès reste-t-il valide ?"


@pytest.fixture
def cli_env(monkeypatch, sample_pipeline, reranker_dir, embedder_dir):
    for name, value in {"POLYDESK_EMBEDDING_MODEL": str(embedder_dir), "POLYDESK_RERANKER_MODEL": str(reranker_dir),
                        "POLYDESK_CHROMA_PATH": str(sample_pipeline.settings.chroma_path),
                        "POLYDESK_LLM": "off"}.items():
        monkeypatch.setenv(name, value)


def test_ask_with_a_conversation_file_prints_the_search_query_and_passages(cli_env, tmp_path, capsys):
    conversation = tmp_path / "turns.jsonl"
    conversation.write_text('{"role": "user", "content": "How do I get an access token?"}\n'
                            '{"role": "assistant", "content": "Use POST /oauth/token [1]."}\n', encoding="utf-8")
    code = main(["ask", FOLLOW_UP, "--collection", "parcelio", "--conversation", str(conversation), "--json"])
    answer = json.loads(capsys.readouterr().out)
    assert code == 0
    assert answer["search_query"] == f"How do I get an access token? {FOLLOW_UP}"
    assert len(answer["passages"]) == 3 and {"source", "text", "language"} <= set(answer["passages"][0])
    assert answer["language"] == "en" and "rewrite" in answer["timings_ms"]


def test_a_bad_conversation_file_is_a_message(cli_env, tmp_path, capsys):
    conversation = tmp_path / "turns.jsonl"
    conversation.write_text('{"role": "bot", "content": "hi"}\n', encoding="utf-8")
    assert main(["ask", FOLLOW_UP, "--collection", "parcelio", "--conversation", str(conversation)]) == 1
    assert "has role 'bot'" in capsys.readouterr().err


def test_reply_reads_the_ticket_from_stdin(cli_env, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(TICKET))
    code = main(["reply", "-", "--collection", "parcelio", "--json"])
    reply = json.loads(capsys.readouterr().out)
    assert code == 0
    assert reply["language"] == "fr"
    assert reply["questions"] == ["Combien de temps un jeton d'accès reste-t-il valide ?"]
    assert reply["draft"]["mode"] == "extractive" and reply["draft"]["passages"]


def test_reply_refuses_a_message_over_the_limit(cli_env, tmp_path, capsys):
    ticket = tmp_path / "ticket.txt"
    ticket.write_text("x" * 20_001, encoding="utf-8")
    assert main(["reply", str(ticket), "--collection", "parcelio"]) == 1
    assert "the limit is 20,000" in capsys.readouterr().err
