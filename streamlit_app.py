"""Polydesk's entry: the page frame and the navigation over the pages in pages/ (listed in pages/_navigation.py)."""

from __future__ import annotations

from pages._navigation import app_navigation

app_navigation().run()
