"""Reciprocal rank fusion against hand-computed values."""

import pytest

from core.knowledge.fusion import reciprocal_rank_fusion


def test_hand_computed_scores():
    fused = dict(reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["b"] == pytest.approx(1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)


def test_order_and_ties():
    assert [i for i, _ in reciprocal_rank_fusion([["a", "b"], ["b", "a"], ["c"]])] == ["a", "b", "c"]
    assert [i for i, _ in reciprocal_rank_fusion([["x"], ["y"]])] == ["x", "y"], "ties keep first-seen order"


def test_empty_and_disjoint_lists():
    assert reciprocal_rank_fusion([]) == []
    assert reciprocal_rank_fusion([[], []]) == []
    assert [i for i, _ in reciprocal_rank_fusion([["a"], [], ["b", "c"]])] == ["a", "b", "c"]


def test_duplicates_in_one_list_count_once():
    assert dict(reciprocal_rank_fusion([["a", "a", "b"]]))["a"] == pytest.approx(1 / 61)
