"""Citation markers parsed from answers and mapped to passages; finished answers and their warnings."""

from __future__ import annotations

import pytest

from core.answers.citations import marker_numbers, parse_citations
from core.answers.finish import finish_answer


@pytest.mark.parametrize(("text", "numbers"), [
    ("Tokens expire after an hour [1].", [1]),
    ("Use the refresh endpoint [2][3].", [2, 3]),
    ("Both apply [1, 3].", [1, 3]),
    ("See [1,2] and [3 ; 1].", [1, 2, 3, 1]),
    ("See [1-3].", [1, 2, 3]),
    ("有効期限は1時間です【1】。", [1]),
    ("有効期限は1時間です［２］。", [2]),
    ("令牌过期时返回401[1]。", [1]),
    ("It returns 401[2] or 403 [3].", [2, 3]),
    ("Read x1[2], data_set[1] and hour[1] as code.", []),
    ("Expired.[2] Then [1]", [2, 1]),
    ("Index with `arr[0]` or arr[0] or f()[1] or matrix[1][2].", []),
    ("```python\nx = items[1]\nprint([2])\n```\nDone [3].", [3]),
    ("A [link](https://example.com), an image ![1](a.png) and [1](https://x.y).", []),
    ("[1]: https://example.com/ref\nText.", []),
    ("We had [1-500] and [3-1] and [1000].", []),
])
def test_marker_numbers(text, numbers):
    assert marker_numbers(text) == numbers


def test_citations_in_order_of_first_appearance_duplicates_once_invalid_flagged(make_candidate):
    candidates = [make_candidate(f"p{i}", rank=i) for i in (1, 2, 3)]
    citations, invalid = parse_citations("A [2]. B [1][2]. C [5] and [0], again [5], then [3].", candidates)
    assert [c.marker for c in citations] == [2, 1, 3]
    assert [c.candidate for c in citations] == [candidates[1], candidates[0], candidates[2]]
    assert invalid == (5, 0)


def test_finish_answer_generated_flags_markers_that_point_nowhere(make_candidate):
    candidates = [make_candidate("p1", "de", rank=1), make_candidate("p2", rank=2)]
    answer = finish_answer("  Das gilt [1][4].  ", "de", candidates, "generated", "qwen3", ["slow server"])
    assert answer.text == "Das gilt [1][4]."
    assert [c.marker for c in answer.citations] == [1] and answer.invalid_markers == (4,)
    assert answer.warnings[0] == "slow server" and "[4]" in answer.warnings[1] and "not shown" in answer.warnings[1]
    assert (answer.mode, answer.model, answer.language) == ("generated", "qwen3", "de")


def test_finish_answer_drops_a_leftover_think_block_and_warns_on_empty(make_candidate):
    answer = finish_answer("<think>\nhmm [9]\n</think>\n\nYes [1].", "en", [make_candidate("p")], "generated", "m")
    assert answer.text == "Yes [1]." and answer.invalid_markers == () and answer.warnings == ()
    empty = finish_answer("<think>only thoughts", "en", [make_candidate("p")], "generated", "m")
    assert empty.text == "" and empty.citations == () and "empty" in empty.warnings[0]


def test_finish_answer_extractive_cites_every_passage_shown(make_candidate):
    candidates = [make_candidate(f"p{i}", rank=i) for i in (1, 2, 3)]
    answer = finish_answer("quoted passages", "en", candidates, "extractive", "extractive", ["LLM down"])
    assert [c.marker for c in answer.citations] == [1, 2, 3] and answer.warnings == ("LLM down",)
