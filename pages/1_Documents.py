"""The Documents page (admins only): upload files into collections, follow ingests, browse and manage collections."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime

import streamlit as st

from core.admin.auth import (
    NOT_CONFIGURED_MESSAGE,
    AdminSession,
    authenticate,
    is_admin_email,
    login_throttle,
    new_session,
    throttle_keys,
)
from core.admin.client_address import client_address, trusted_networks
from core.admin.documents import DocumentAdmin, shared_document_admin
from core.admin.jobs import IngestJob
from core.errors import PolydeskError
from core.knowledge.links import SiteLinks
from core.settings import Settings
from pages._feedback_review import feedback_panel
from pages._shared import ADMIN, DOCUMENTS_NOTICE, DOCUMENTS_PENDING, DOCUMENTS_POLLING, show_text, start

NEW_COLLECTION = "New collection…"
POLL_SECONDS = 1.0


def sso_configured() -> bool:
    """Whether single sign-on is set up: an [auth] table in secrets.toml."""
    try:
        return "auth" in st.secrets
    except FileNotFoundError:
        return False


def live_session() -> AdminSession | None:
    """This browser session's admin session, dropped with a notice once it has expired."""
    session = st.session_state.get(ADMIN)
    if not isinstance(session, AdminSession):
        return None
    if session.is_valid(time.monotonic()):
        return session
    del st.session_state[ADMIN]
    st.warning("Your admin session has expired: sign in again.")
    return None


def sign_in(settings: Settings) -> None:
    """Password and single sign-on forms; the page stops here until an admin is signed in."""
    sso = sso_configured() and bool(settings.admin_emails.strip())
    if not settings.admin_password_hash and not sso:
        st.info(NOT_CONFIGURED_MESSAGE)
        st.caption("Single sign-on instead: configure an [auth] table in .streamlit/secrets.toml "
                   "(Streamlit's st.login) and list the admins' e-mail addresses in POLYDESK_ADMIN_EMAILS.")
        st.stop()
    st.subheader("Sign in as an admin")
    if sso:
        sso_sign_in(settings)
    if settings.admin_password_hash:
        password_sign_in(settings)
    st.stop()


def password_sign_in(settings: Settings) -> None:
    """User name and password, checked against the configured hash and throttled per user and address."""
    with st.form("sign-in"):
        user = st.text_input("User name")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    try:
        result = authenticate(user, password, admin_user=settings.admin_user,
                              password_hash=settings.admin_password_hash, throttle=login_throttle(),
                              key=throttle_keys(user, sign_in_address(settings)))
    except PolydeskError as exc:
        st.error(str(exc))
        return
    if not result.ok:
        st.error(result.message)
        return
    st.session_state[ADMIN] = new_session(result.user or user, "password", settings.session_minutes, time.monotonic())
    st.rerun()


def sign_in_address(settings: Settings) -> str:
    """The client's address; X-Forwarded-For counts only when it comes through a POLYDESK_TRUSTED_PROXIES proxy."""
    forwarded = st.context.headers.get_all("X-Forwarded-For")
    return client_address(st.context.ip_address, forwarded, trusted_networks(settings.trusted_proxies))


def sso_sign_in(settings: Settings) -> None:
    """Single sign-on through st.login; only e-mails on the admin list get an admin session."""
    if not st.user.get("is_logged_in"):
        st.button("Sign in with single sign-on", on_click=st.login)
        return
    email = st.user.get("email")
    if is_admin_email(email, settings.admin_emails):
        st.session_state[ADMIN] = new_session(str(email), "sso", settings.session_minutes, time.monotonic())
        st.rerun()
    st.error(f"You are signed in as {email or 'an account without an e-mail address'}, which is not on the admin "
             "list (POLYDESK_ADMIN_EMAILS).")
    st.button("Sign out of single sign-on", on_click=st.logout)


def sidebar(session: AdminSession) -> None:
    """Who is signed in, for how long, and a sign-out button."""
    minutes = max(0, int((session.expires_at - time.monotonic()) // 60))
    st.sidebar.caption(f"Signed in as **{session.user}** (admin) · session ends in {minutes} min")
    if st.sidebar.button("Sign out"):
        del st.session_state[ADMIN]
        if session.method == "sso":
            st.logout()
        st.rerun()


def upload_form(admin: DocumentAdmin, session: AdminSession, names: list[str]) -> None:
    """Choose or name a collection, drop files, start the ingest."""
    choice = st.selectbox("Collection", [*names, NEW_COLLECTION], key="upload-collection")
    collection = (st.text_input("New collection name", placeholder="e.g. payments-api", key="new-collection").strip()
                  if choice == NEW_COLLECTION else choice)
    limits = admin.limits
    files = st.file_uploader(
        "Documents or .zip archives of folders", accept_multiple_files=True, key="uploads",
        help=f"Markdown, HTML, PDF, Word, text and OpenAPI files; at most {limits.max_files} files, "
             f"{limits.max_file_bytes // 1_000_000} MB each and {limits.max_total_bytes // 1_000_000} MB together.",
    )
    base_url = st.text_input("Public base URL of these docs (optional)", admin.links(collection).base_url if
                             collection in names else "", placeholder="https://docs.example.com/", key="base-url",
                             help="Citations then link to the published pages; the collection keeps it.")
    if st.button("Ingest", type="primary", disabled=not files or not collection):
        try:
            admin.upload(session, collection, [(f.name, f.getvalue()) for f in files or []], base_url)
        except PolydeskError as exc:
            st.error(str(exc))


def jobs_panel(admin: DocumentAdmin) -> None:
    """Running and recent ingests; refreshes itself while one runs, then reloads the page once."""
    jobs = admin.jobs.recent()
    for job in jobs:
        show_job(job)
    if st.session_state.get(DOCUMENTS_POLLING) and not any(job.running for job in jobs):
        st.session_state[DOCUMENTS_POLLING] = False
        st.rerun(scope="app")


def show_job(job: IngestJob) -> None:
    """One ingest: overall and per-file progress while it runs, the report once it ends."""
    started = datetime.fromtimestamp(job.started_at).strftime("%H:%M:%S")
    state = "running" if job.running else ("stopped" if job.error else "finished")
    with st.container(border=True):
        st.markdown(f"**{job.collection}** · started {started} by {job.started_by} · {state}")
        if job.running:
            st.progress(job.fraction, text=f"{job.done} of {job.total or '?'} files")
        if job.error:
            st.error(job.error)
        files = [{"file": f.source, "progress": f.fraction, "state": f.state, "reason": f.reason} for f in job.files()]
        if job.running or not job.report:
            st.dataframe(files, hide_index=True, column_config={
                "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0)})
            return
        report = job.report
        totals = report.totals()
        st.caption(f"{len(report.files)} files, {len(report.failed)} failed · chunks: {totals['added']} added, "
                   f"{totals['updated']} updated, {totals['removed']} removed, {totals['unchanged']} unchanged")
        st.dataframe(report.to_dict()["files"], hide_index=True)
        csv_col, json_col = st.columns(2)
        csv_col.download_button("Download report (CSV)", report.to_csv(), f"ingest-{job.id}.csv", "text/csv",
                                key=f"csv-{job.id}")
        json_col.download_button("Download report (JSON)", json.dumps(report.to_dict(), ensure_ascii=False, indent=2),
                                 f"ingest-{job.id}.json", "application/json", key=f"json-{job.id}")


def collection_panel(admin: DocumentAdmin, session: AdminSession, names: list[str]) -> None:
    """One collection: counts, languages, settings, its documents and their chunks, and the write actions."""
    if not names:
        st.info("No collections yet: upload documents on the Upload tab to create one.")
        return
    overviews = {name: admin.overview(name) for name in names}
    st.dataframe([{"collection": name, "documents": len(o.sources), "chunks": o.info.chunks,
                   "languages": " · ".join(f"{code} {n}" for code, n in o.languages.items()),
                   "embedding model": o.info.embedding_model, "description": o.info.description}
                  for name, o in overviews.items()], hide_index=True)
    name = st.selectbox("Collection", names, key="browse-collection")
    overview = overviews[name]
    info = overview.info
    docs, chunks, langs = st.columns(3)
    docs.metric("Documents", len(overview.sources))
    chunks.metric("Chunks", info.chunks)
    langs.metric("Languages", len(overview.languages))
    st.caption(f"Embedded with {info.embedding_model} ({info.embedding_dim} dimensions)")
    if overview.languages:
        st.bar_chart(overview.languages, horizontal=True, height=70 + 28 * len(overview.languages),
                     x_label="language", y_label="chunks")
    with st.form(f"settings-{name}"):
        description = st.text_area("Description", info.description)
        instruction = st.text_area("Rerank instruction (blank: the configured default)", info.rerank_instruction,
                                   placeholder=admin.pipeline.settings.reranker_instruction)
        base_url = st.text_input("Public base URL (links apply from the next ingest)", info.base_url)
        default_folder = st.text_input("Language folder served without its folder (e.g. en)", info.url_default_language)
        extension = st.text_input("Page extension in URLs (blank: docs/setup/; .html: docs/setup.html)",
                                  info.url_extension)
        if st.form_submit_button("Save settings"):
            links = SiteLinks(base_url, default_folder, extension)
            act(lambda: admin.update_collection(session, name, description=description,
                                                rerank_instruction=instruction, links=links), "Settings saved.")
    st.dataframe([{"document": s, "chunks": n} for s, n in overview.sources.items()], hide_index=True)
    document = st.selectbox("Document", list(overview.sources), key=f"document-{name}")
    if document:
        chunks = admin.document_chunks(name, document)
        st.dataframe([{"#": c.index, "section": " › ".join(c.heading_path), "language": c.language,
                       "tokens": c.token_count, "text": c.text} for c in chunks], hide_index=True)
        read = st.selectbox("Read a chunk", chunks, key=f"read-{name}",
                            format_func=lambda c: f"#{c.index} {' › '.join(c.heading_path)} ({c.language or '?'})")
        if read is not None:
            show_text(read.text, read.language, f"chunk-{name}-{read.index}")
    remove, reingest, delete = st.columns(3)
    if document and remove.button("Remove this document…"):
        st.session_state[DOCUMENTS_PENDING] = ("remove", name, document)
    if reingest.button("Re-ingest collection", disabled=not overview.reingestable,
                       help="Ingest the uploaded files again; only changed files cost time."):
        act(lambda: admin.reingest(session, name), "Re-ingest started: see the Upload tab.")
    if delete.button("Delete collection…"):
        st.session_state[DOCUMENTS_PENDING] = ("delete", name)
    confirm(admin, session, name, overview.sources)


def confirm(admin: DocumentAdmin, session: AdminSession, name: str, sources: dict[str, int]) -> None:
    """Ask before a removal or deletion is carried out."""
    pending = st.session_state.get(DOCUMENTS_PENDING)
    if not pending or pending[1] != name:
        return
    if pending[0] == "delete":
        st.warning(f"Delete the collection **{name}** with its {sum(sources.values())} chunks from {len(sources)} "
                   "documents? Agents can no longer search it. This cannot be undone.")
        action, done = (lambda: admin.delete_collection(session, name)), f"Deleted collection {name}."
    else:
        source = pending[2]
        st.warning(f"Remove **{source}** ({sources.get(source, 0)} chunks) from {name}?")
        action, done = (lambda: admin.remove_document(session, name, source)), f"Removed {source}."
    yes, no = st.columns(2)
    if yes.button("Yes, go ahead", type="primary"):
        st.session_state.pop(DOCUMENTS_PENDING, None)
        act(action, done)
    if no.button("Cancel"):
        st.session_state.pop(DOCUMENTS_PENDING, None)
        st.rerun()


def act(action: Callable[[], object], done: str) -> None:
    """Run a write action: a notice and a fresh page on success, the reason on failure."""
    try:
        action()
    except PolydeskError as exc:
        st.error(str(exc))
        return
    st.session_state[DOCUMENTS_NOTICE] = done
    st.rerun()


st.title("Documents")
settings, _, _ = start(sample=False)
session = live_session()
if session is None:
    sign_in(settings)
    st.stop()
sidebar(session)
desk = shared_document_admin(settings)
if notice := st.session_state.pop(DOCUMENTS_NOTICE, None):
    st.success(notice)
try:
    collection_names = [info.name for info in desk.pipeline.store.collections()]
except PolydeskError as exc:
    st.error(str(exc))
    st.stop()

upload_tab, collections_tab, feedback_tab = st.tabs(["Upload", "Collections", "Feedback"])
with upload_tab:
    upload_form(desk, session, collection_names)
    polling = any(job.running for job in desk.jobs.recent())
    st.session_state[DOCUMENTS_POLLING] = st.session_state.get(DOCUMENTS_POLLING) or polling
    st.fragment(jobs_panel, run_every=POLL_SECONDS if polling else None)(desk)
with collections_tab:
    try:
        collection_panel(desk, session, collection_names)
    except PolydeskError as exc:
        st.error(str(exc))
with feedback_tab:
    try:
        feedback_panel(desk, collection_names)
    except PolydeskError as exc:
        st.error(str(exc))
