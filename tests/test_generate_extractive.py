"""The extractive answer: passages quoted as written, the sentences sharing most tokens with the question in bold."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

from core.answers.extractive import NO_ANSWER_LABEL, extractive_answer
from core.answers.finish import EXTRACTIVE_MODEL, finish_answer

AUTH = (
    "Auth > Tokens\n\n"
    "Tokens are issued by the login endpoint. Expired tokens are rejected with HTTP 401. "
    "The dashboard shows usage per day.\n\n"
    "```python\nclient.refresh()  # tokens expired\n```"
)


def bold(markdown: str) -> list[str]:
    """The texts a Markdown renderer shows in bold (so markers that do not render do not count)."""
    return re.findall(r"<strong>(.*?)</strong>", MarkdownIt("commonmark").render(markdown), flags=re.DOTALL)


def test_the_sentence_sharing_most_tokens_is_bold_and_the_answer_labelled(make_candidate):
    passage = make_candidate(AUTH, heading_path=("Auth", "Tokens"))
    text = extractive_answer("What happens when a token expires?", [passage], "en")
    assert text.startswith(NO_ANSWER_LABEL) and "No generated answer" in text
    expected = ["[1] Auth &gt; Tokens", "Expired tokens are rejected with HTTP 401."]
    assert bold(text.removeprefix(NO_ANSWER_LABEL)) == expected
    assert "```python\n> client.refresh()  # tokens expired\n> ```" in text  # code is quoted untouched
    assert "> Auth > Tokens" not in text  # the heading-path line is the title, not quoted again


def test_sentences_are_ranked_per_passage_and_weak_ones_left_plain(make_candidate):
    one = make_candidate("Webhooks are signed. Retry webhooks after failure. Colours are blue.", rank=1)
    two = make_candidate("Nothing relevant here. Still nothing.", rank=2)
    three = make_candidate("Colours are blue. Signed webhooks carry a header. Webhooks are signed with HMAC.", rank=3)
    text = extractive_answer("How are webhooks signed?", [one, two, three], "en")
    assert bold(text.removeprefix(NO_ANSWER_LABEL)) == [
        "[1] Guide", "Webhooks are signed.", "[2] Guide",
        "[3] Guide", "Signed webhooks carry a header.", "Webhooks are signed with HMAC.",
    ]


def test_japanese_sentences_match_by_bigrams_and_the_bold_renders(make_candidate):
    passage = make_candidate("アクセストークンの有効期限は1時間です。期限が切れたら再発行してください。", "ja",
                             heading_path=())
    text = extractive_answer("アクセストークンの有効期限は？", [passage], "ja")
    assert "アクセストークンの有効期限は1時間です" in bold(text)  # CJK punctuation kept outside the ** markers
    assert "期限が切れたら再発行してください。" not in bold(text)


def test_stemming_follows_each_text_language(make_candidate):
    german = make_candidate("Das Konto wird gelöscht. Abgelaufene Tokens werden abgelehnt.", "de", heading_path=())
    text = extractive_answer("Warum wird mein abgelaufener Token abgelehnt?", [german], "de")
    assert bold(text)[-1] == "Abgelaufene Tokens werden abgelehnt."
    assert "· German" not in text  # same language as the question: not flagged
    assert "· German" in extractive_answer("Why?", [german], "en")


def test_no_candidates_and_the_answer_record(make_candidate):
    nothing = extractive_answer("q", [], "en")
    assert nothing == f"{NO_ANSWER_LABEL}\n\nNo passage of the documentation matches the question."
    passages = [make_candidate(AUTH)]
    text = extractive_answer("Expired token?", passages, "en")
    answer = finish_answer(text, "en", passages, "extractive", EXTRACTIVE_MODEL, ["The LLM is unreachable."])
    assert answer.mode == "extractive" and answer.warnings == ("The LLM is unreachable.",)
    assert [c.marker for c in answer.citations] == [1] and NO_ANSWER_LABEL in answer.text
