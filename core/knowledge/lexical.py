"""BM25 over chunks in any script: Unicode words, bigrams where words are not spaced, Snowball stems, identifiers.

How text becomes tokens (`lexical_tokens`), measured on a 12-language QA set (see DESIGN.md):
- NFKC and casefold; words are runs of letters, combining marks and digits, so Devanagari vowel signs stay
  inside their words;
- runs in scripts written without spaces between words (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar)
  and in Hangul become overlapping character bigrams, or the character itself for a run of one;
- words are stemmed with the Snowball stemmer of the text's language (PyStemmer) where one exists;
- identifiers stay searchable: `ERR_TOKEN_EXPIRED` gives `err`, `token`, `expir` (stemmed parts) and the
  whole `err_token_expired`; `/v1/users/{user_id}` gives `v1`, `user`, `user`, `id`, `v1/users/user_id` and
  `user_id`; camelCase words also give their parts (`JSONResponse`: `jsonrespons`, `json`, `respons`).
  Whole identifiers are not stemmed, so a question quoting one matches it exactly, and they count twice in
  a question, so the chunk with the identifier outranks chunks that share only its parts or other words.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Sequence

import bm25s
import numpy as np
import regex
import Stemmer

# ISO 639-1 code -> Snowball algorithm, for the algorithms this PyStemmer build has.
_SNOWBALL = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "cs": "czech", "da": "danish",
    "nl": "dutch", "en": "english", "eo": "esperanto", "et": "estonian", "fi": "finnish", "fr": "french",
    "de": "german", "el": "greek", "hi": "hindi", "hu": "hungarian", "id": "indonesian", "ga": "irish",
    "it": "italian", "lt": "lithuanian", "ne": "nepali", "nb": "norwegian", "nn": "norwegian",
    "no": "norwegian", "fa": "persian", "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian",
    "sr": "serbian", "st": "sesotho", "es": "spanish", "sv": "swedish", "ta": "tamil", "tr": "turkish",
    "yi": "yiddish",
    # Snowball has no Ukrainian; the Russian stemmer shares most endings and raises Recall@10 on FastAPI's
    # Ukrainian docs (heading -> section) from 0.63 to 0.66.
    "uk": "russian",
}
STEMMERS: dict[str, str] = {code: name for code, name in _SNOWBALL.items() if name in Stemmer.algorithms()}

# Scripts cut into character bigrams: those written without spaces between words, and Hangul, whose spaced
# words carry particles and endings (토큰이, 토큰은 share 토큰). On FastAPI's Korean docs (section heading as
# the question, its section as the answer) Hangul bigrams raise Recall@10 from 0.65 to 0.76.
BIGRAM_SCRIPTS = ("Han", "Hiragana", "Katakana", "Hangul", "Thai", "Lao", "Khmer", "Myanmar")
_BIGRAM = "[[\\p{L}\\p{M}\\p{N}]&&[" + "".join(f"\\p{{scx={s}}}" for s in BIGRAM_SCRIPTS) + "]]"
# A word is Latin letters and digits, or letters of one other script, so Korean particles come off Latin
# words ("API는" is "api", "는"); combining marks (script Inherited) stay with the letters they follow.
_LATIN = f"[[\\p{{L}}\\p{{N}}]&&[\\p{{sc=Latin}}\\p{{sc=Common}}]--{_BIGRAM}]"
_OTHER = f"[[\\p{{L}}\\p{{M}}\\p{{N}}]--[{_BIGRAM}\\p{{sc=Latin}}\\p{{sc=Common}}\\p{{sc=Inherited}}]]"
_WORD_PATTERN = f"(?:{_LATIN}(?:{_LATIN}|\\p{{sc=Inherited}})*|{_OTHER}(?:{_OTHER}|\\p{{sc=Inherited}})*)"
# Separators that join words into one identifier: . _ - / \ : @, with brackets allowed around them ({id}).
_JOINER = r"[)\]}>]*[._\-/\\:@]+[({\[<]*"
_TOKEN = regex.compile(f"(?V1)(?P<bigram>{_BIGRAM}+)|(?P<ident>{_WORD_PATTERN}(?:{_JOINER}{_WORD_PATTERN})*)")
# The same spans before telling scripts apart: a cheaper first pass, enough for ASCII.
_SPAN = regex.compile(f"[\\p{{L}}\\p{{M}}\\p{{N}}]+(?:{_JOINER}[\\p{{L}}\\p{{M}}\\p{{N}}]+)*")
_WORD = regex.compile(f"(?V1){_WORD_PATTERN}")
_JOINED = regex.compile(r"[._\-/\\:@]")  # only whole identifiers contain these
_PATH_SEPARATOR = regex.compile(r"[/\\:@]+")
_BRACKETS = regex.compile(r"[(){}\[\]<>]")
_CAMEL_CASE = regex.compile(r"\p{Ll}\p{Lu}|\p{Lu}\p{Lu}\p{Ll}")
_CAMEL_PART = regex.compile(r"\p{Lu}+(?=\p{Lu}\p{Ll})|\p{Lu}?\p{Ll}+|\p{Lu}+|\p{N}+")
# Characters that are invisible inside words: soft hyphen, zero-width (non-)joiners, word joiner, BOM,
# variation selectors. They are removed, so a word is the same token with or without them.
_INVISIBLE = regex.compile(r"[\u00ad\u200c\u200d\u2060\ufeff\ufe00-\ufe0f\U000e0100-\U000e01ef]")

_local = threading.local()  # PyStemmer stemmers keep state, so each thread gets its own


def _stemmer(language: str | None) -> Stemmer.Stemmer | None:
    """This thread's Snowball stemmer for an ISO 639-1 code (or a tag such as pt-BR), or None where there is none."""
    algorithm = STEMMERS.get((language or "").split("-")[0].lower())
    if algorithm is None:
        return None
    stemmers: dict[str, Stemmer.Stemmer] = _local.__dict__.setdefault("stemmers", {})
    if algorithm not in stemmers:
        stemmers[algorithm] = Stemmer.Stemmer(algorithm)
    return stemmers[algorithm]


def _bigrams(run: str) -> list[str]:
    """Overlapping character bigrams of a run, or the run itself when it is one character."""
    return [run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)]


def _camel_parts(word: str) -> list[str]:
    """The parts of a camelCase word (`JSONResponse`: JSON, Response), or [] when it is not one."""
    return _CAMEL_PART.findall(word) if _CAMEL_CASE.search(word) else []


def _compounds(identifier: str) -> list[str]:
    """Whole forms of a multi-word identifier: all of it, and its path segments that are compounds themselves."""
    whole = _BRACKETS.sub("", identifier)
    segments = [s for s in _PATH_SEPARATOR.split(whole) if s]
    return [whole] + [s for s in segments if s != whole and len(_WORD.findall(s)) > 1]


def _token_spans(text: str) -> list[tuple[str, str]]:
    """(bigram run, "") or ("", identifier) for each span of the text, in order."""
    spans: list[tuple[str, str]] = []
    for span in _SPAN.findall(text):
        if span.isascii():
            spans.append(("", span))
        else:
            spans += _TOKEN.findall(span)
    return spans


def lexical_tokens(text: str, language: str | None) -> list[str]:
    """BM25 tokens of a text written in `language` (ISO 639-1, or None for no stemming)."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    tokens: list[str] = []
    words: list[int] = []  # positions in tokens of the words to be stemmed
    for bigram_run, identifier in _token_spans(text):
        if bigram_run:
            tokens += _bigrams(bigram_run.casefold())
            continue
        parts = [identifier] if identifier.isalnum() else _WORD.findall(identifier)
        if len(parts) > 1:
            tokens += _compounds(identifier.casefold())
        for part in parts:
            words.append(len(tokens))
            tokens.append(part.casefold())
            if part != part.lower() and not part.isupper() and not part[1:].islower():  # may be camelCase
                for word in _camel_parts(part):
                    words.append(len(tokens))
                    tokens.append(word.casefold())
    stemmer = _stemmer(language)
    if stemmer is not None and words:
        for position, stem in zip(words, stemmer.stemWords([tokens[i] for i in words]), strict=True):
            tokens[position] = stem
    return tokens


class TokenCache:
    """Token ids of chunks already tokenised, by chunk id; chunk ids are content-addressed, so rows never go stale."""

    def __init__(self, vocabulary: dict[str, int] | None = None,
                 rows: dict[str, np.ndarray] | None = None) -> None:
        self.vocabulary: dict[str, int] = vocabulary or {}
        self._rows: dict[str, np.ndarray] = rows or {}
        self._lock = threading.Lock()

    def missing(self, ids: Sequence[str]) -> list[str]:
        """The ids among these that were never tokenised."""
        return [chunk_id for chunk_id in ids if chunk_id not in self._rows]

    def rows(self, ids: Sequence[str], texts: Sequence[str], languages: Sequence[str | None]) -> list[np.ndarray]:
        """Token ids of each chunk, tokenising only chunks not seen before and forgetting chunks now gone."""
        with self._lock:
            rows = [self._rows[chunk_id] if chunk_id in self._rows else self._tokenise(text, language)
                    for chunk_id, text, language in zip(ids, texts, languages, strict=True)]
            self._rows = dict(zip(ids, rows, strict=True))
            return rows

    def _tokenise(self, text: str, language: str | None) -> np.ndarray:
        """One chunk's tokens as ids, growing the vocabulary."""
        return np.fromiter((self.vocabulary.setdefault(token, len(self.vocabulary))
                            for token in lexical_tokens(text, language)), dtype=np.int32)


class LexicalIndex:
    """BM25 (bm25s, Lucene variant) over chunks, each tokenised in its own language; rebuilt whole on change.

    A TokenCache shared between rebuilds of one collection's index makes a rebuild tokenise only new chunks;
    texts of chunks already in the cache are not needed (pass ""). Searching only reads the index, so one index
    serves concurrent searches.
    """

    def __init__(self, ids: Sequence[str], texts: Sequence[str], languages: Sequence[str | None],
                 cache: TokenCache | None = None) -> None:
        if not len(ids) == len(texts) == len(languages):
            raise ValueError(f"{len(ids)} ids, {len(texts)} texts and {len(languages)} languages: they must match")
        if len(set(ids)) != len(ids):
            raise ValueError("chunk ids must be unique")
        self.ids: tuple[str, ...] = tuple(ids)
        self.language_of: dict[str, str | None] = dict(zip(ids, languages, strict=True))
        self.cache: TokenCache | None = cache or TokenCache()
        corpus = self.cache.rows(ids, texts, languages)
        self.bm25: bm25s.BM25 | None = None
        if any(len(row) for row in corpus):
            self.bm25 = bm25s.BM25()
            self.bm25.index((corpus, dict(self.cache.vocabulary)), show_progress=False)

    @classmethod
    def loaded(cls, ids: Sequence[str], languages: Sequence[str | None], bm25: bm25s.BM25 | None) -> LexicalIndex:
        """An index from a saved BM25 model; its token cache is loaded only if the index is ever updated."""
        index = cls.__new__(cls)
        index.ids, index.cache, index.bm25 = tuple(ids), None, bm25
        index.language_of = dict(zip(ids, languages, strict=True))
        return index

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: str, k: int, language: str | None) -> list[tuple[str, float]]:
        """Up to k (chunk id, BM25 score) best first, only chunks sharing a token with the query."""
        if self.bm25 is None or k <= 0:
            return []
        tokens = lexical_tokens(query, language)
        tokens += [t for t in tokens if _JOINED.search(t)]  # a quoted identifier weighs double in a question
        token_ids = self.bm25.get_tokens_ids(tokens)
        if not token_ids:
            return []
        scores = self.bm25.get_scores_from_ids(token_ids)
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        hits = hits[np.lexsort((hits, -scores[hits]))]  # best first, ties in index order
        return [(self.ids[i], float(scores[i])) for i in hits]
