"""Polydesk's entry: the page frame and the navigation over the pages in pages/."""

from __future__ import annotations

import streamlit as st

PAGES = [("pages/ask.py", "Ask", "💬"), ("pages/1_Documents.py", "Documents", "📚"),
         ("pages/2_Compare_languages.py", "Compare languages", "🌐"),
         ("pages/3_Rerank_playground.py", "Rerank playground", "🧪"), ("pages/4_Evaluate.py", "Evaluate", "📏"),
         ("pages/5_Status.py", "Status", "🩺")]

st.set_page_config(page_title="Polydesk", page_icon="🛟", layout="wide")
st.navigation([st.Page(path, title=title, icon=icon, default=index == 0)
               for index, (path, title, icon) in enumerate(PAGES)]).run()
