"""Polydesk's entry: the page frame and the navigation over the pages in pages/."""

from __future__ import annotations

import streamlit as st

# (file, title, icon, address): the addresses are those the pages had before st.navigation, so links keep working.
PAGES = [("pages/ask.py", "Ask", "💬", ""), ("pages/1_Documents.py", "Documents", "📚", "Documents"),
         ("pages/2_Compare_languages.py", "Compare languages", "🌐", "Compare_languages"),
         ("pages/3_Rerank_playground.py", "Rerank playground", "🧪", "Rerank_playground"),
         ("pages/4_Evaluate.py", "Evaluate", "📏", "Evaluate"), ("pages/5_Status.py", "Status", "🩺", "Status")]

st.set_page_config(page_title="Polydesk", page_icon="🛟", layout="wide")
st.navigation([st.Page(path, title=title, icon=icon, url_path=address or None, default=not address)
               for path, title, icon, address in PAGES]).run()
