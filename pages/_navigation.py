"""The app's frame and page list, shown by streamlit_app.py and by a page that Streamlit ran on its own."""

from __future__ import annotations

import threading

import streamlit as st
from streamlit.navigation.page import StreamlitPage

# (file, title, icon, address): the addresses are those the pages had before st.navigation, so links keep working.
PAGES = [("pages/ask.py", "Ask", "💬", ""), ("pages/1_Documents.py", "Documents", "📚", "Documents"),
         ("pages/2_Compare_languages.py", "Compare languages", "🌐", "Compare_languages"),
         ("pages/3_Rerank_playground.py", "Rerank playground", "🧪", "Rerank_playground"),
         ("pages/4_Evaluate.py", "Evaluate", "📏", "Evaluate"), ("pages/5_Status.py", "Status", "🩺", "Status")]


_shown = threading.Event()  # set once this process has shown the app's navigation


def app_navigation() -> StreamlitPage:
    """Set the page frame and the navigation over PAGES; the page the address asks for."""
    _shown.set()
    st.set_page_config(page_title="Polydesk", page_icon="🛟", layout="wide")
    return st.navigation([st.Page(path, title=title, icon=icon, url_path=address or None, default=not address)
                          for path, title, icon, address in PAGES])


def keep_app_navigation() -> None:
    """A fresh server's first visit to a page's own address (e.g. /Documents) runs that page alone, under
    Streamlit's automatic list of every file in pages/ (the folder sits beside streamlit_app.py): end that mode
    and run again through streamlit_app.py, which shows the same page in the app's navigation."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory and not _shown.is_set():
        PagesManager.uses_pages_directory = False
        st.rerun()
