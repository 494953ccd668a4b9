"""Ticket replies: the customer's message checked, its questions found (LLM on loopback, and off), a draft."""

from __future__ import annotations

import re

import pytest

from core.answers.ticket import MAX_TICKET_CHARS, check_ticket, extract_questions, likely_questions
from core.errors import BadInput
from core.models.chat.http import OpenAIChatGenerator
from tests.fake_servers import ChatReply, refused_url, serve_chat, sse_events

SPANISH_TICKET = """Hola equipo de Parcelio:

Desde ayer nuestra integración recibe errores al crear envíos. Usamos credenciales OAuth2 de cliente.
¿Cuánto tiempo es válido un token de acceso? ¿Cómo renuevo el token cuando caduca?

Gracias, Marta"""


def test_a_blank_or_too_long_message_is_refused_with_the_limit():
    with pytest.raises(BadInput, match="empty"):
        check_ticket(" \n\t ")
    with pytest.raises(BadInput, match="the limit is 20,000"):
        check_ticket("a" * (MAX_TICKET_CHARS + 1))
    assert check_ticket("  ¿Qué es un webhook?  ") == "¿Qué es un webhook?"


@pytest.mark.parametrize(("message", "questions"), [
    (SPANISH_TICKET, ("¿Cuánto tiempo es válido un token de acceso?", "¿Cómo renuevo el token cuando caduca?")),
    ("Hallo. Wie lange gilt ein Token? Danke.", ("Wie lange gilt ein Token?",)),
    ("トークンの期限は？よろしくお願いします。", ("トークンの期限は？",)),
    ("Our shipments fail with 401 since Monday. Please help.", ("Our shipments fail with 401 since Monday.",)),
])
def test_without_an_llm_the_sentences_asking_something_are_the_questions(message, questions):
    assert likely_questions(message) == questions


def test_at_most_three_questions_of_bounded_length_are_searched():
    message = " ".join(f"Question {i} {'x' * 400}?" for i in range(5))
    found = likely_questions(message)
    assert len(found) == 3 and all(len(q) <= 300 for q in found)


def echo_questions(request: dict) -> ChatReply:
    """A deterministic stand-in for the extraction: the quoted message's question sentences, as a numbered list."""
    message = re.search(r"<message>\n(.*?)\n</message>", request["messages"][-1]["content"], re.S).group(1)
    asked = re.findall(r"¿[^?]*\?", message)
    return ChatReply(events=sse_events([f"{i}. {q}\n" for i, q in enumerate(asked, start=1)]))


def test_the_llm_lists_the_questions_of_a_message():
    with serve_chat(echo_questions) as (url, seen):
        questions, warnings = extract_questions(SPANISH_TICKET, OpenAIChatGenerator(url, "tiny"))
    assert questions == likely_questions(SPANISH_TICKET) and warnings == ()
    assert "at most 3" in seen[0]["messages"][0]["content"]


def test_a_failed_extraction_falls_back_and_says_so():
    questions, warnings = extract_questions(SPANISH_TICKET, OpenAIChatGenerator(refused_url(), "tiny", retries=0))
    assert questions == likely_questions(SPANISH_TICKET) and "could not list" in warnings[0]


def test_reply_without_an_llm_quotes_the_passages_of_every_question(sample_pipeline):
    reply = sample_pipeline.reply(SPANISH_TICKET, ["parcelio"])
    assert reply.language == "es" and reply.questions == likely_questions(SPANISH_TICKET)
    draft = reply.draft
    assert draft.mode == "extractive" and 3 <= len(draft.passages) <= 6
    assert len({p.chunk.content_hash for p in draft.passages}) == len(draft.passages)
    assert draft.search_query == "\n".join(reply.questions)


def test_reply_with_an_llm_is_drafted_in_the_customers_language_or_the_chosen_one(sample_pipeline, monkeypatch):
    def reply_to(request: dict) -> ChatReply:
        if "list the questions" in request["messages"][0]["content"]:
            return echo_questions(request)
        return ChatReply(events=sse_events(["Hola Marta: un token dura una hora [1]."]))

    with serve_chat(reply_to) as (url, seen):
        monkeypatch.setitem(sample_pipeline._parts, "generator", OpenAIChatGenerator(url, "tiny"))
        reply = sample_pipeline.reply(SPANISH_TICKET, ["parcelio"])
        english = sample_pipeline.reply(SPANISH_TICKET, ["parcelio"], language="en")
    assert reply.draft.mode == "generated" and [c.marker for c in reply.draft.citations] == [1]
    drafts = [r for r in seen if "drafting a reply" in r["messages"][0]["content"]]
    assert "Write the whole reply in Spanish" in drafts[0]["messages"][0]["content"]
    assert "Marta" in drafts[0]["messages"][-1]["content"]
    assert english.language == "en" and "Write the whole reply in English" in drafts[1]["messages"][0]["content"]
