"""The Ask page: support agents ask in conversations, or paste a customer's message for a reply draft."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.errors import PolydeskError
from core.knowledge.language import language_name
from core.ops.cpu_note import cpu_note
from core.ops.doctor import Diagnosis, diagnose
from core.ops.startup import Startup
from core.pipeline import Pipeline, shared_pipeline
from core.settings import Settings
from core.timing import with_added
from core.types import Turn
from pages._answer_view import AskTurn, show_answer, show_long
from pages._shared import ASK_HISTORY, ASK_REPLIES, start

AUTO = "auto"
QUESTION_MODE, TICKET_MODE = "Question", "Customer message"
HEALTH = {"ok": "🟢", "warn": "🟠", "fail": "🔴"}


@dataclass(frozen=True)
class TicketTurn:
    """A customer's message and the reply drafted for it."""

    message: str
    reply: object  # core.types.TicketReply
    turn: AskTurn


@st.cache_data(ttl=30, show_spinner=False)
def checked(settings: Settings, loaded: frozenset[str]) -> Diagnosis:
    """The doctor's checks of this configuration (without the reranker probe), at most every 30 s."""
    pipeline = shared_pipeline(settings)
    return diagnose(settings, loaded=loaded, store=lambda: pipeline.store)


def health_light(pipeline: Pipeline) -> None:
    """One line: all well, or how many checks warn or fail (the details are on the Status page)."""
    states = [c.state for c in checked(pipeline.settings, pipeline.loaded_models()).checks]
    worst = "fail" if "fail" in states else "warn" if "warn" in states else "ok"
    bad = sum(state != "ok" for state in states)
    st.caption(f"{HEALTH[worst]} " + ("All systems ready" if worst == "ok" else
                                      f"{bad} check{'s' if bad > 1 else ''} need attention: see the Status page"))


def sidebar(pipeline: Pipeline) -> tuple[list[str], str | None]:
    """Collections, the answer language, what runs on a CPU, a new conversation, and the health light."""
    with st.sidebar:
        names = [c.name for c in pipeline.store.collections()]
        chosen = st.multiselect("Collections", names, default=names)
        codes = [AUTO, *pipeline.answer_languages]
        language = st.selectbox("Answer language", codes, key="answer-language",
                                format_func=lambda c: "The question's language" if c == AUTO else language_name(c))
        if pipeline.settings.llm == "off":
            st.caption("No language model is configured (POLYDESK_LLM=off): answers are the best passages in "
                       "their own language, so the answer language and translations need a model.")
        on_cpu = cpu_note(pipeline.settings)
        if on_cpu:
            st.caption(on_cpu)
        if st.button("New conversation"):
            st.session_state[ASK_HISTORY] = []
        st.divider()
        health_light(pipeline)
    return chosen, None if language == AUTO else language


def conversation_of(history: list[AskTurn]) -> list[Turn]:
    """The earlier turns of the conversation, question and answer each."""
    return [t for past in history for t in (Turn("user", past.question), Turn("assistant", past.answer.text))]


def ask(pipeline: Pipeline, begun: Startup, question: str, collections: list[str], language: str | None,
        history: list[AskTurn]) -> None:
    """Answer a question, saying what runs meanwhile, and add it to the conversation."""
    with st.chat_message("user"):
        show_long(question, None, "pending")
    with st.chat_message("assistant"):
        status = st.status("Starting…")
        try:
            waited = begun.wait_until_searchable(lambda label: status.update(label=label))
            run = pipeline.ask(question, collections, language, conversation=conversation_of(history),
                               on_stage=lambda label: status.update(label=label))
            status.update(label="Writing the answer…")
            st.write_stream(run.stream())
            answer = run.answer()
        except PolydeskError:
            status.update(label="Stopped: see the message below.", state="error")
            raise
        status.update(label=f"Answered from {len(run.passages)} passages.", state="complete")
    history.append(AskTurn(question, tuple(collections), answer, with_added(run.timings_ms, {"load": waited})))
    st.rerun()


def show_history(pipeline: Pipeline, history: list[AskTurn]) -> str | None:
    """The conversation so far; returns an edited search query to search again, if the agent asked for it."""
    again = None
    for turn in history:
        with st.chat_message("user"):
            show_long(turn.question, turn.answer.language, f"question-{turn.answer_id}")
        with st.chat_message("assistant"):
            show_answer(pipeline, turn)
            query = turn.answer.search_query
            if query:
                edited = st.text_input("Searched for", query, key=f"query-{turn.answer_id}")
                if st.button("Search again", key=f"again-{turn.answer_id}") and edited.strip():
                    again = edited.strip()
    return again


def question_mode(pipeline: Pipeline, begun: Startup, collections: list[str], language: str | None) -> None:
    """The conversation and the question box; blank questions are refused."""
    history: list[AskTurn] = st.session_state.setdefault(ASK_HISTORY, [])
    again = show_history(pipeline, history)
    question = st.chat_input("Ask about the documentation, in any language")
    if question is not None and not question.strip():
        st.warning("The question is blank: type what you want to know.")
        return
    wanted = again or question
    if wanted and collections:
        try:
            ask(pipeline, begun, wanted, collections, language, [] if again else history)
        except PolydeskError as exc:
            st.error(str(exc))


def ticket_mode(pipeline: Pipeline, begun: Startup, collections: list[str], language: str | None) -> None:
    """Paste a customer's message, get a reply draft in the customer's language, with its links."""
    replies: list[TicketTurn] = st.session_state.setdefault(ASK_REPLIES, [])
    message = st.text_area("The customer's message", height=200, key="ticket-message")
    st.caption("The reply is drafted in the customer's language, or in the answer language chosen in the sidebar: "
               "change it and press **Draft a reply** again to regenerate.")
    if st.button("Draft a reply", type="primary", disabled=not collections):
        if not message.strip():
            st.warning("The message is blank: paste the customer's message first.")
        else:
            try:
                with st.status("Reading the message…") as status:
                    waited = begun.wait_until_searchable(lambda label: status.update(label=label))
                    reply = pipeline.reply(message, collections, language,
                                           on_stage=lambda label: status.update(label=label))
                    status.update(label="Reply drafted.", state="complete")
            except PolydeskError as exc:
                st.error(str(exc))
                return
            draft = reply.draft
            timings = with_added(reply.timings_ms, {"load": waited})
            turn = AskTurn(message, tuple(collections), draft, timings, kind="reply")
            replies.append(TicketTurn(message, reply, turn))
    for ticket in reversed(replies):
        show_ticket(pipeline, ticket)


def show_ticket(pipeline: Pipeline, ticket: TicketTurn) -> None:
    """A drafted reply: the language, the questions found, the draft with its passages, links and copy buttons."""
    reply = ticket.reply
    with st.container(border=True):
        show_long(ticket.message, reply.language, f"ticket-{ticket.turn.answer_id}")
        st.caption(f"Customer's language: {language_name(reply.language)} · questions found: "
                   + " · ".join(reply.questions))
        for warning in reply.warnings:
            st.warning(warning)
        show_answer(pipeline, ticket.turn)
        links = [url for c in ticket.turn.answer.citations if (url := c.candidate.chunk.url)]
        if links:
            st.caption("Links to send with the reply:")
        for url in dict.fromkeys(links):
            st.code(url, language=None)


settings, pipeline, begun = start(load_models=True)
try:
    collections, language = sidebar(pipeline)
except PolydeskError as exc:
    st.error(f"Polydesk cannot start: {exc}")
    st.stop()

st.title("Ask")
if not collections and not begun.sample_running:
    st.info("Choose at least one collection in the sidebar (an admin adds them on the Documents page).")
mode = st.radio("Mode", [QUESTION_MODE, TICKET_MODE], horizontal=True, key="ask-mode", label_visibility="collapsed")
if mode == QUESTION_MODE:
    question_mode(pipeline, begun, collections, language)
else:
    ticket_mode(pipeline, begun, collections, language)
