"""BM25 tokens in every script, identifiers kept whole, and the lexical index over them."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.knowledge.lexical import STEMMERS, LexicalIndex, lexical_tokens


@pytest.mark.parametrize(("text", "language", "expected"), [
    # Han, kana and Thai runs become bigrams; Latin words inside them stay words.
    ("令牌过期", "zh", ["令牌", "牌过", "过期"]),
    ("API的令牌", "zh", ["api", "的令", "令牌"]),
    ("トークンの期限", "ja", ["トー", "ーク", "クン", "ンの", "の期", "期限"]),
    ("東", "ja", ["東"]),
    ("ขอโทษ", "th", ["ขอ", "อโ", "โท", "ทษ"]),
    # Hangul words carry particles: bigrams let 토큰이 match 토큰; particles come off Latin words.
    ("토큰이 만료", "ko", ["토큰", "큰이", "만료"]),
    ("API는 401을", "ko", ["api", "는", "401", "을"]),
    ("الرمز منتهي", "ar", ["رمز", "منته"]),
    ("ТОКЕН Истёк", None, ["токен", "истёк"]),
    ("ТОКЕН Истёк", "ru", ["ток", "истек"]),
    # Devanagari vowel signs and viramas are combining marks: they stay inside their words.
    ("हिन्दी किताबें", None, ["हिन्दी", "किताबें"]),
    ("हिन्दी किताबें", "hi", ["हिन्द", "किताब"]),
    ("Passwörter zurücksetzen", "de", ["passwort", "zurucksetz"]),
    ("Passwörter zurücksetzen", None, ["passwörter", "zurücksetzen"]),
    ("Running tokens", "en", ["run", "token"]),
    ("Straße", None, ["strasse"]),
    ("ＡＰＩ　ｋｅｙ", None, ["api", "key"]),  # NFKC folds full-width forms
    ("soft\u00adhyphen", None, ["softhyphen"]),
    ("end. Next", None, ["end", "next"]),
    ("Якщо токена", "uk", ["якщ", "ток"]),  # Ukrainian borrows the Russian stemmer
    ("Token", "xx", ["token"]),  # no stemmer for the language: words as they are
    ("Running", "EN-gb", ["run"]),  # a language tag is reduced to its language
])
def test_tokens_per_script(text: str, language: str | None, expected: list[str]) -> None:
    assert lexical_tokens(text, language) == expected


def test_python_word_pattern_would_split_devanagari() -> None:
    assert re.findall(r"\w+", "हिन्दी") != ["हिन्दी"]
    assert lexical_tokens("हिन्दी", None) == ["हिन्दी"]


@pytest.mark.parametrize(("text", "expected"), [
    ("json.loads()", ["json.loads", "json", "load"]),
    ("HTTP 401", ["http", "401"]),
    ("GET /v1/users/{id}", ["get", "v1/users/id", "v1", "user", "id"]),
    ("ERR_TOKEN_EXPIRED", ["err_token_expired", "err", "token", "expir"]),
    ("Retry-After: 120", ["retry-after", "retri", "after", "120"]),
    ("snake_case_name", ["snake_case_name", "snake", "case", "name"]),
    ("X-RateLimit-Remaining", ["x-ratelimit-remaining", "x", "ratelimit", "rate", "limit", "remain"]),
    ("JSONResponse", ["jsonrespons", "json", "respons"]),
    ("getUserById", ["getuserbyid", "get", "user", "by", "id"]),
    ("/users/{user_id}/items", ["users/user_id/items", "user_id", "user", "user", "id", "item"]),
    ("std::io::Read", ["std::io::read", "std", "io", "read"]),
])
def test_identifiers_give_parts_and_whole_forms(text: str, expected: list[str]) -> None:
    assert lexical_tokens(text, "en") == expected


def test_no_tokens_without_letters_or_digits() -> None:
    assert lexical_tokens("", "en") == []
    assert lexical_tokens("  --- !!! ... ¿? 。、", "en") == []


def test_common_languages_have_stemmers() -> None:
    for code in ("en", "de", "fr", "es", "pt", "it", "nl", "ru", "ar", "hi", "tr", "sv", "fa", "pl"):
        assert code in STEMMERS


DOCS = {
    "en-keys": ("en", "Rotate an API key from the dashboard: create a new key, deploy it, then revoke the old key."),
    "en-expiry": ("en", "Access tokens expire after one hour. When a token has expired the API answers 401 and "
                        "expired tokens must be refreshed; refresh tokens expire after 30 days."),
    "en-errors": ("en", "Error codes in the `code` field: ERR_TOKEN_EXPIRED, ERR_RATE_LIMITED, ERR_NOT_FOUND."),
    "en-invalid": ("en", "ERR_TOKEN_INVALID means the token signature is wrong; an expired token gets another "
                         "error code."),
    "en-user": ("en", "GET /v1/users/{id} returns one user."),
    "en-users": ("en", "GET /v1/users lists every user; POST /v1/users/{id}/keys creates a key for the user with "
                       "that id; DELETE /v1/users/{id}/keys/{key_id} removes one key of a user id."),
    "en-parse": ("en", "Parse the request body with json.loads before reading its fields."),
    "en-json": ("en", "JSON bodies are read lazily: the body loads when a JSON field is first read."),
    "en-retry-header": ("en", "On 429 the Retry-After header says how many seconds to wait."),
    "en-retry": ("en", "Failed webhooks are retried; we retry after a short pause and retry again after an hour."),
    "de-password": ("de", "Passwörter können Sie unter Einstellungen > Sicherheit zurücksetzen."),
    "de-export": ("de", "Exporte als CSV sind auf 100 000 Zeilen begrenzt; nutzen Sie die Paginierung."),
    "ru-token": ("ru", "Если срок действия токена истёк, API возвращает 401; запросите новый токен."),
    "ru-export": ("ru", "Экспорт в CSV ограничен 100 000 строками; используйте постраничный вывод."),
    "zh-token": ("zh", "令牌过期时，API 返回 401。请调用刷新接口获取新的令牌。"),
    "zh-export": ("zh", "CSV 导出最多 100000 行，请使用分页获取更多数据。"),
    "ja-token": ("ja", "トークンの有効期限が切れると、APIは401を返します。"),
    "ja-export": ("ja", "CSVのエクスポートは10万行までです。ページングを使ってください。"),
    "th-token": ("th", "เมื่อโทเค็นหมดอายุ API จะส่งคืน 401 กรุณาขอโทเค็นใหม่"),
    "th-export": ("th", "การส่งออก CSV จำกัดที่ 100000 แถว กรุณาใช้การแบ่งหน้า"),
    "ko-token": ("ko", "토큰이 만료되면 API는 401을 반환합니다."),
    "ko-export": ("ko", "CSV 내보내기는 100000행으로 제한됩니다. 페이지 나누기를 사용하세요."),
    "ar-token": ("ar", "عندما تنتهي صلاحية الرمز، تعيد الواجهة الرمز 401."),
    "hi-token": ("hi", "टोकन की अवधि समाप्त होने पर API 401 लौटाता है।"),
    "hi-export": ("hi", "CSV निर्यात 100000 पंक्तियों तक सीमित है; पेजिनेशन का उपयोग करें।"),
}

QUERIES = [
    ("How do I rotate my API key?", "en", "en-keys"),
    ("Wie setze ich mein Passwort zurück?", "de", "de-password"),
    ("действие токенов", "ru", "ru-token"),
    ("令牌过期怎么办", "zh", "zh-token"),
    ("导出的行数限制", "zh", "zh-export"),
    ("トークンの期限切れ", "ja", "ja-token"),
    ("โทเค็นหมดอายุ", "th", "th-token"),
    ("การแบ่งหน้า", "th", "th-export"),
    ("토큰 만료", "ko", "ko-token"),
    ("صلاحية الرمز", "ar", "ar-token"),
    ("टोकन की अवधि", "hi", "hi-token"),
    ("पंक्तियों की सीमा", "hi", "hi-export"),
    # Identifiers: the chunk quoting the identifier comes first, before chunks sharing only its parts.
    ("ERR_TOKEN_EXPIRED", "en", "en-errors"),
    ("what does ERR_TOKEN_EXPIRED mean?", "en", "en-errors"),
    ("/v1/users/{id}", "en", "en-user"),
    ("json.loads", "en", "en-parse"),
    ("Retry-After", "en", "en-retry-header"),
]


@pytest.fixture(scope="module")
def index() -> LexicalIndex:
    return LexicalIndex(list(DOCS), [text for _, text in DOCS.values()], [lang for lang, _ in DOCS.values()])


@pytest.mark.parametrize(("query", "language", "expected"), QUERIES)
def test_each_query_finds_its_chunk_first(index: LexicalIndex, query: str, language: str, expected: str) -> None:
    hits = index.search(query, 5, language)
    assert hits[0][0] == expected, hits


def test_hits_are_best_first_with_positive_scores(index: LexicalIndex) -> None:
    hits = index.search("token expired 401", 50, "en")
    scores = [score for _, score in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(score > 0 for score in scores)
    assert hits[0][0] == "en-expiry"
    # Only chunks sharing a token are returned: the English token chunks, and those that contain 401.
    assert {chunk_id for chunk_id, _ in hits} == {"en-expiry", "en-errors", "en-invalid", "ru-token", "zh-token",
                                                  "ja-token", "th-token", "ko-token", "ar-token", "hi-token"}


def test_k_limits_the_hits(index: LexicalIndex) -> None:
    assert len(index.search("401", 3, "en")) == 3
    assert len(index.search("401", 100, "en")) == 8
    assert index.search("401", 0, "en") == []


def test_empty_query_or_unknown_words_find_nothing(index: LexicalIndex) -> None:
    assert index.search("", 10, "en") == []
    assert index.search("?! ...", 10, None) == []
    assert index.search("zyxwvut", 10, "en") == []


def test_empty_index_finds_nothing() -> None:
    empty = LexicalIndex([], [], [])
    assert len(empty) == 0
    assert empty.search("token", 10, "en") == []
    blank = LexicalIndex(["a", "b"], ["", "---"], ["en", None])
    assert len(blank) == 2
    assert blank.search("token", 10, "en") == []


def test_chunk_without_tokens_is_never_found() -> None:
    index = LexicalIndex(["a", "b"], ["", "token refresh"], ["en", "en"])
    assert index.search("token", 10, "en") == [("b", pytest.approx(index.search("token", 1, "en")[0][1]))]


def test_inputs_must_line_up() -> None:
    with pytest.raises(ValueError, match="must match"):
        LexicalIndex(["a", "b"], ["x"], ["en"])
    with pytest.raises(ValueError, match="unique"):
        LexicalIndex(["a", "a"], ["x", "y"], ["en", "en"])


def test_concurrent_searches_agree(index: LexicalIndex) -> None:
    queries = [(q, lang) for q, lang, _ in QUERIES] * 5
    expected = [index.search(q, 5, lang) for q, lang in queries]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(lambda args: index.search(args[0], 5, args[1]), queries)) == expected


def test_rebuild_with_a_shared_token_cache_matches_a_fresh_index():
    from core.knowledge.lexical import LexicalIndex, TokenCache

    cache = TokenCache()
    first = {"a": "Cancel a shipment with DELETE", "b": "Webhooks are signed", "c": "レート制限 429"}
    LexicalIndex(list(first), list(first.values()), ["en", "en", "ja"], cache)
    second = {"a": first["a"], "c": first["c"], "d": "Refund a cancelled shipment label"}
    cached = LexicalIndex(list(second), list(second.values()), ["en", "ja", "en"], cache)
    fresh = LexicalIndex(list(second), list(second.values()), ["en", "ja", "en"])
    for query in ("cancelled shipment", "signed webhooks", "レート制限"):
        assert cached.search(query, 5, "en") == fresh.search(query, 5, "en")
    assert cached.search("signed", 5, "en") == []


@pytest.mark.timeout(120)
@pytest.mark.parametrize("unit", ["a", "a.", "aб", "a-б", "éB", "x/y", "漢", "a)-("])
def test_tokens_are_linear_in_a_tokens_length(unit):
    """A 200,000-character run without spaces (a pasted blob, a minified file) is tokenised in one pass."""
    text = unit * (200_000 // len(unit))
    tokens = lexical_tokens(text, "de")
    assert tokens and all(len(token) <= len(text) for token in tokens)
