"""The Documents page's Feedback tab: rated answers that need an admin's look, filtered, counted, exported."""

from __future__ import annotations

import streamlit as st

from core.admin.documents import DocumentAdmin
from core.answers.feedback_review import DEFAULT_LOW_SCORE, REASONS, counts, review, review_csv

REVIEW_LIMIT = 5000  # the newest rated answers the review reads


def feedback_panel(admin: DocumentAdmin, names: list[str]) -> None:
    """Rated answers that need attention, by language and collection, with filters and a CSV export."""
    entries = admin.pipeline.feedback.recent(limit=REVIEW_LIMIT)
    reasons, languages, collections, low = st.columns(4)
    wanted = reasons.multiselect("Reasons", REASONS, default=REASONS, key="review-reasons")
    found = sorted({e.answer_language or "unknown" for e in entries})
    chosen_languages = languages.multiselect("Languages", found, key="review-languages")
    chosen_collections = collections.multiselect("Collections", names, key="review-collections")
    low_score = low.number_input("Low rerank score below", 0.0, 1.0, DEFAULT_LOW_SCORE, 0.05, key="review-low")
    rows = review(entries, low_score, wanted, chosen_languages, chosen_collections)
    st.caption(f"{len(rows)} of the {len(entries)} newest rated answers need a look.")
    if not rows:
        return
    st.dataframe(counts(rows), hide_index=True)
    st.dataframe([row.to_dict() for row in rows], hide_index=True)
    st.download_button("Download the review (CSV)", review_csv(rows), "feedback-review.csv", "text/csv")
