"""What every page shares: the one start-up, the session-state keys, and text shown in its own direction."""

from __future__ import annotations

import streamlit as st

from core.answers.safe_markdown import safe_markdown
from core.errors import PolydeskError
from core.knowledge.ingest.run import IngestReport, Progress
from core.ops.startup import Startup, sample_label, startup
from core.pipeline import Pipeline
from core.settings import Settings, load_settings
from pages._navigation import keep_app_navigation

# Session-state keys of every page, in one place.
ASK_HISTORY = "ask_history"  # list[AskTurn] of this browser session's conversation
ASK_TRANSLATIONS = "ask_translations"  # {(turn, marker): translated text}
ASK_REPLIES = "ask_replies"  # list[TicketTurn] of the ticket mode
ASK_RATINGS = "ask_ratings"  # {answer id: rating} given in this browser session
ASK_LOGGED = "ask_logged"  # {answer id} of this session's answers kept in the answer log
ADMIN = "admin_session"  # the AdminSession of this browser session; only a successful sign-in sets it
DOCUMENTS_PENDING = "documents_pending"  # ("remove", collection, source) | ("delete", collection) to confirm
DOCUMENTS_NOTICE = "documents_notice"  # a success message to show after the rerun that follows an action
DOCUMENTS_POLLING = "documents_polling"  # True while the jobs panel refreshes itself
PLAYGROUND_RESULTS = "playground.results"  # list[BackendRanking] and the passages they rank
COMPARE_RUNS = "compare.runs"  # list[LanguageRun] of the last comparison
COMPARE_QUESTION = "compare.question.{}"  # the question's version in one language
EVALUATE_RUNS = "evaluate.runs"  # dict[label, EvalReport], oldest first
SAMPLE_SHOWN = "sample_shown"  # True once this browser session was told the first-start sample ingest has ended

RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur"})
DIRECTION_STYLE = """<style>
[class*="st-key-dir-rtl"], [class*="st-key-dir-rtl"] [data-testid="stElementContainer"] {
  direction: rtl; text-align: right; }
[class*="st-key-dir-auto"] p, [class*="st-key-dir-auto"] li { unicode-bidi: plaintext; }
[class*="st-key-dir-"] code { direction: ltr; unicode-bidi: isolate; }
</style>"""


def start(sample: bool = True, load_models: bool = False) -> tuple[Settings, Pipeline, Startup]:
    """Settings, the process's pipeline and its start-up; the page stops with the reason when Polydesk cannot start.
    sample: ingest the sample documentation into an empty store in the background, showing its progress;
    load_models: start loading the models in the background."""
    keep_app_navigation()
    try:
        settings = load_settings()
        begun = startup(settings)
        if sample:
            ingest_sample(begun)
    except PolydeskError as exc:
        st.error(f"Polydesk cannot start: {exc}")
        st.stop()
    if load_models:
        begun.load_in_background()
    return settings, begun.pipeline, begun


def ingest_sample(begun: Startup) -> None:
    """The first-start sample ingest, started in the background (once per process): its progress while it runs, and
    what it did once it has ended (once per browser session). Raises PolydeskError when it failed."""
    begun.ingest_sample_in_background()
    if begun.sample_running:
        sample_progress(begun, sample_phase(begun))
    elif begun.sample_error:
        raise PolydeskError(f"the sample documentation could not be ingested: {begun.sample_error}")
    elif (done := report_sample(begun.sample_report)) and not st.session_state.get(SAMPLE_SHOWN):
        st.session_state[SAMPLE_SHOWN] = True
        st.toast(done)


def sample_phase(begun: Startup) -> str:
    """"chunking" until the sample is searchable, "embedding" while its embeddings are computed, then "ended"."""
    if not begun.wait_searchable(0):
        return "chunking"
    return "embedding" if begun.sample_running else "ended"


@st.fragment(run_every=1.0)
def sample_progress(begun: Startup, phase: str) -> None:
    """The sample ingest's progress, shown afresh every second; the whole page reruns when its phase changes (the
    collection appears in the sidebar, answers become hybrid)."""
    if sample_phase(begun) != phase:
        st.rerun()
    progress = begun.sample_progress
    st.progress(progress_fraction(progress), text=sample_label(progress))


def progress_fraction(progress: Progress | None) -> float:
    """How far the current phase of the sample ingest is, from 0 to 1."""
    if progress is None:
        return 0.0
    if progress.chunks_total:
        return min(1.0, progress.chunks / progress.chunks_total)
    return min(1.0, progress.done / progress.total) if progress.total else 0.0


def direction(language: str | None) -> str:
    """"rtl" for Arabic, Hebrew, Persian and Urdu, else "auto" (each paragraph follows its first strong letter)."""
    return "rtl" if language in RTL_LANGUAGES else "auto"


def show_text(text: str, language: str | None, key: str) -> None:
    """Markdown laid out in its language's direction, inline code kept left to right."""
    st.markdown(DIRECTION_STYLE, unsafe_allow_html=True)
    with st.container(key=f"dir-{direction(language)}-{key}"):
        st.markdown(safe_markdown(text))


def report_sample(report: IngestReport | None) -> str | None:
    """A line about the first-start sample ingest, or None when there was none."""
    if report is None:
        return None
    return f"Ingested the sample documentation: {len(report.files)} files, {report.totals()['added']} chunks."
