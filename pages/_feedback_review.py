"""The Documents page's Feedback tab: logged answers that need an admin's look, filtered, counted, exported."""

from __future__ import annotations

import streamlit as st

from core.admin.documents import DocumentAdmin
from core.answers.feedback_review import DEFAULT_LOW_SCORE, NO_LANGUAGE, REASONS, counts, review, review_csv

REVIEW_LIMIT = 5000  # the newest answers needing review that the tab reads


def feedback_panel(admin: DocumentAdmin, names: list[str]) -> None:
    """Answers rated down, not answered from the documents or scored low, by language and collection, with a CSV."""
    reasons, languages, collections, low = st.columns(4)
    low_score = low.number_input("Low rerank score below", 0.0, 1.0, DEFAULT_LOW_SCORE, 0.05, key="review-low")
    entries = admin.pipeline.answer_log.needing_review(low_score, REVIEW_LIMIT)
    wanted = reasons.multiselect("Reasons", REASONS, default=REASONS, key="review-reasons")
    found = sorted({e.language or NO_LANGUAGE for e in entries})
    chosen_languages = languages.multiselect("Languages", found, key="review-languages")
    chosen_collections = collections.multiselect("Collections", names, key="review-collections")
    rows = review(entries, low_score, wanted, chosen_languages, chosen_collections)
    st.caption(f"{len(rows)} answers shown, of the {len(entries)} newest (Ask page and API, rated or not) that were "
               "rated down, not answered from the documents, or scored low.")
    if not rows:
        return
    st.dataframe(counts(rows), hide_index=True)
    st.dataframe([row.to_dict() for row in rows], hide_index=True)
    st.download_button("Download the review (CSV)", review_csv(rows), "feedback-review.csv", "text/csv")
