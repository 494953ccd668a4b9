"""Evaluate: Recall@k, MRR@10 and nDCG@10 per language and search stage on labelled queries; compare two runs."""

from __future__ import annotations

import altair as alt
import streamlit as st

from core.errors import PolydeskError
from core.quality.evaluate import DEFAULT_KS, STAGES, EvalReport, evaluate
from core.quality.qrels import parse_qrels
from pages._shared import EVALUATE_RUNS, start


def metric_chart(report: EvalReport, metric: str) -> alt.Chart:
    """One metric per language, a bar per stage."""
    rows = [{"language": r["group"], "stage": r["stage"], metric: r.get(metric)}
            for r in (row.to_dict() for row in report.rows)]
    return alt.Chart(alt.Data(values=rows)).mark_bar().encode(
        x=alt.X("language:N"), xOffset=alt.XOffset("stage:N", sort=list(STAGES)),
        y=alt.Y(f"{metric}:Q", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("stage:N", sort=list(STAGES)), tooltip=["language:N", "stage:N", f"{metric}:Q"],
    )


def run_difference(before: EvalReport, after: EvalReport, metric: str) -> list[dict]:
    """The metric of two runs side by side for every group and stage both measured."""
    old = {(r.group, r.stage): r.to_dict().get(metric) for r in before.rows}
    rows = []
    for row in after.rows:
        new, previous = row.to_dict().get(metric), old.get((row.group, row.stage))
        if new is not None and previous is not None:
            rows.append({"language": row.group, "stage": row.stage, "before": previous, "after": new,
                         "change": round(new - previous, 4)})
    return rows


st.title("Evaluate")
st.caption("How well each search stage finds the labelled passages, language by language.")

_, pipeline, _ = start()
try:
    collections = [info.name for info in pipeline.store.collections()]
except PolydeskError as exc:
    st.error(str(exc))
    st.stop()
if not collections:
    st.info("No collections yet: ingest documentation on the Documents page or with `polydesk ingest`.")
    st.stop()

collection = st.selectbox("Collection", collections)
upload = st.file_uploader("Qrels file (JSON Lines)", type=["jsonl", "json"],
                          help="One labelled query per line, e.g. a file written by `polydesk eval-build`")
stages = st.multiselect("Stages", STAGES, default=list(STAGES))
ks = st.multiselect("Recall@k cut-offs", [1, 3, 5, 10, 20], default=list(DEFAULT_KS))
by = st.radio("Group by", ["language", "pair"], horizontal=True,
              help="pair: the query's language and the relevant passage's language")
runs: dict[str, EvalReport] = st.session_state.setdefault(EVALUATE_RUNS, {})
label = st.text_input("Name of this run", f"run {len(runs) + 1}")

if st.button("Run", type="primary", disabled=not (stages and ks and upload)):
    try:
        queries = parse_qrels(upload.getvalue().decode("utf-8", errors="replace"), upload.name)
        bar = st.progress(0.0, text=f"{len(queries)} queries")
        report = evaluate(pipeline, collection, queries, stages, ks, by,
                          lambda done, total: bar.progress(done / total, text=f"{done}/{total} queries"))
        runs[label.strip() or f"run {len(runs) + 1}"] = report
    except PolydeskError as exc:
        st.error(str(exc))

if runs:
    shown = st.selectbox("Run", list(runs), index=len(runs) - 1)
    report = runs[shown]
    for warning in report.warnings:
        st.warning(warning)
    st.dataframe([row.to_dict() for row in report.rows], hide_index=True, width="stretch")
    metric = st.selectbox("Chart metric", [m for m in report.rows[0].to_dict() if "@" in m])
    st.altair_chart(metric_chart(report, metric), width="stretch")
    if len(runs) >= 2:
        st.subheader("Compare two runs")
        left, right = st.columns(2)
        before = left.selectbox("Before", list(runs), index=len(runs) - 2)
        after = right.selectbox("After", list(runs), index=len(runs) - 1)
        st.dataframe(run_difference(runs[before], runs[after], metric), hide_index=True, width="stretch")
