"""Language identification of chunks, documents and questions with Lingua, as ISO 639-1 codes.

Detection looks at prose only: fenced and inline code, URLs, HTML tags and code-like tokens such as
`json.loads` or `user_id` are removed first (in Chinese, Japanese, Korean and Thai, where a word and an
identifier are often written without a space between them, only the identifier goes). API documentation in
Hindi, Japanese or Russian is full of English terms, so when a good share of the remaining letters is in a
script other than Latin, only the words in those scripts are shown to Lingua. Short, code-only or ambiguous
texts get None; inside a document such chunks take the document's language, the majority of its confidently
detected chunks.

A question is short, so the few words that say nothing about its language weigh a lot: acronyms and
mixed-case names (API, SDK, OAuth) and the English technical terms written untranslated in every language
(webhook, token, sandbox) are left out of what Lingua sees when enough letters are left without them.

Lingua's detector is thread-safe (one instance may be shared by threads; its language models live in
process-wide, lock-protected tables), so one detector per process is enough: see `language_detector`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

import regex

# About 30 widely used languages covering the scripts that API documentation is written in: Latin (17),
# Cyrillic, Greek, Arabic script (Arabic, Persian), Hebrew, Devanagari, Bengali, Tamil, Thai, Hangul,
# Kana and Han. Each Latin-script language adds a model that must be weighed against the others, so
# closely related pairs (Malay next to Indonesian, Bokmal next to Danish, Serbo-Croatian) and the rest of
# Lingua's 75 languages are left out; pass a wider set (or `ALL_LANGUAGES`) where they matter.
# Memory with every model loaded: about 0.66 GB for this set, 1.25 GB for all 75 languages.
DEFAULT_LANGUAGES: tuple[str, ...] = (
    "en", "de", "fr", "es", "pt", "it", "nl", "pl", "cs", "sv", "da", "fi", "ro", "hu", "tr", "vi", "id",
    "ru", "uk", "el", "ar", "fa", "he", "hi", "bn", "ta", "th", "ko", "ja", "zh",
)
ALL_LANGUAGES = "all"

# Letters of prose needed to call a language (a Han, kana or Hangul character counts 3): a question on its
# own needs a few words; a chunk, which can fall back on its document's language, needs a sentence or two.
MIN_LETTERS = 12
MIN_CHUNK_LETTERS = 40
MIN_CONFIDENCE = 0.5  # Lingua's probability for the best language, among the configured ones
# A question takes Lingua's best guess however unsure (right for short questions far more often than a
# threshold allows); only text with fewer prose letters than this (code, numbers, symbols) gets None.
MIN_QUESTION_LETTERS = 2
_WIDE_WEIGHT = 3
NON_LATIN_SHARE = 0.3  # above this share of non-Latin letters, only the non-Latin words are detected
DOCUMENT_SAMPLE_CHARS = 5000  # how much of a document is read when no single chunk is conclusive

_FENCED = regex.compile(r"(?ms)^[ \t]*(```|~~~).*?(?:^[ \t]*\1[^\n]*$|\Z)")
_INLINE_CODE = regex.compile(r"`[^`\n]*`")
_LINK = regex.compile(r"\[([^\]\n]*)\]\([^)\n]*\)")  # [text](target) -> text
_URL = regex.compile(r"\b[a-z][a-z0-9+.-]*://\S+|\bwww\.\S+", regex.IGNORECASE)
_HTML_TAG = regex.compile(r"<[^>\n]{0,500}>")
# Markdown emphasis and brackets or quotes at the edges of words: "(see", "**Note**:", "_it_".
_EDGES = regex.compile(r"(?<![\p{L}\p{N}])[*_~(\[{\"'«“]+|[*_~)\]}\"'»”]+(?![\p{L}\p{N}])")
# A token with code punctuation inside it, or a dot between two letters (json.loads, example.com); tokens are
# found whole (_PIECE) and tested with this search, which keeps the pass linear in a token's length.
_CODE_MARK = regex.compile(r"[_=(){}\[\]<>/\\$@]|\p{L}\.\p{L}")
# Scripts whose words run straight into a Latin identifier ("create_shipmentが422を返す", "webhook이"): a piece of
# text is a run of these, or a run of other non-space characters.
_UNSPACED = r"\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}\p{scx=Thai}"
_PIECE = regex.compile(rf"(?V1)[{_UNSPACED}]+|[^\s{_UNSPACED}]+")
_LETTER = regex.compile(r"[\p{L}\p{M}]")
_WIDE = regex.compile(r"(?V1)[[\p{L}\p{M}]&&[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}]]")
_NON_LATIN = regex.compile(r"(?V1)[[\p{L}\p{M}]--[\p{Latin}\p{Inherited}]]")
# English technical terms that support questions in every language use untranslated: they say nothing about
# the question's language. Acronyms and mixed-case names (API, SDK, OAuth, GitHub) are found by their case.
NEUTRAL_TERMS = frozenset({
    "api", "apis", "sdk", "url", "http", "https", "json", "xml", "csv", "pdf", "oauth", "curl", "localhost",
    "webhook", "webhooks", "endpoint", "endpoints", "token", "tokens", "sandbox", "header", "headers",
    "dashboard", "python", "javascript", "php", "java",
})
_MIXED_CASE = regex.compile(r"\p{L}\p{M}*\p{Lu}")  # an upper-case letter after the first one
_WORD_PART = regex.compile(r"[^\s\-]+")  # words, and the parts of hyphenated words (API-Schlüssel)
_NOT_LETTER = regex.compile(r"[^\p{L}\p{M}]+")


def prose(text: str) -> str:
    """The text without code blocks, inline code, URLs, HTML tags, Markdown markup and code-like tokens."""
    text = _LINK.sub(r"\1", _INLINE_CODE.sub(" ", _FENCED.sub(" ", text)))
    for pattern in (_URL, _HTML_TAG, _EDGES):
        text = pattern.sub(" ", text)
    return _PIECE.sub(lambda piece: " " if _CODE_MARK.search(piece[0]) else piece[0], text)


def letter_weight(text: str) -> int:
    """Letters in the text, a Han, kana or Hangul character counting as 3 (it carries about a word)."""
    return len(_LETTER.findall(text)) + (_WIDE_WEIGHT - 1) * len(_WIDE.findall(text))


def detection_sample(text: str) -> str:
    """What Lingua is shown: the prose, reduced to its non-Latin words when those are a good share of it."""
    sample = prose(text)
    total = letter_weight(sample)
    non_latin = len(_NON_LATIN.findall(sample)) + (_WIDE_WEIGHT - 1) * len(_WIDE.findall(sample))
    if total and NON_LATIN_SHARE <= non_latin / total < 1:
        sample = " ".join(piece for piece in _PIECE.findall(sample) if _NON_LATIN.search(piece))
    return " ".join(sample.split())


def is_neutral(word: str, by_case: bool = True) -> bool:
    """Whether a word says nothing about a question's language: a NEUTRAL_TERM or, by_case, an acronym or a
    mixed-case name."""
    letters = _NOT_LETTER.sub("", word)
    return letters.casefold() in NEUTRAL_TERMS or (by_case and bool(_MIXED_CASE.search(letters)))


def question_sample(text: str) -> str:
    """What Lingua is shown for a question: the detection sample without its neutral words (acronyms are told by
    their case only in text with lower-case letters) when the rest still has MIN_LETTERS, else the whole sample."""
    sample = detection_sample(text)
    by_case = any(char.islower() for char in sample)
    kept = " ".join(part for part in _WORD_PART.findall(sample) if not is_neutral(part, by_case))
    return kept if letter_weight(kept) >= MIN_LETTERS else sample


def majority_language(languages: Iterable[str | None]) -> str | None:
    """The most frequent known language (the first seen wins a tie), or None when none is known."""
    counts = Counter(lang for lang in languages if lang)
    return counts.most_common(1)[0][0] if counts else None


def detect_document(chunk_texts: Sequence[str], detect_chunk: Callable[[str], str | None],
                    detect_text: Callable[[str], str | None] | None = None) -> tuple[str | None, list[str | None]]:
    """(document language, per-chunk languages); undecided chunks take the document's language.

    The document's language is the majority of its confidently detected chunks; when no chunk is
    conclusive on its own, the start of the whole document is given to `detect_text` (default: detect_chunk).
    """
    detected = [detect_chunk(text) for text in chunk_texts]
    document = majority_language(detected)
    if document is None and chunk_texts:
        document = (detect_text or detect_chunk)("\n\n".join(chunk_texts)[:DOCUMENT_SAMPLE_CHARS])
    return document, [lang or document for lang in detected]


def _lingua_languages(codes: Sequence[str] | str) -> list:
    """Lingua Language members for ISO 639-1 codes (or every language for ALL_LANGUAGES)."""
    from lingua import IsoCode639_1, Language

    if codes == ALL_LANGUAGES:
        return sorted(Language.all(), key=lambda lang: lang.name)
    if isinstance(codes, str):
        raise ValueError(f"give ISO 639-1 codes as a sequence such as ('en', 'de') or {ALL_LANGUAGES!r}, not {codes!r}")
    unknown = [c for c in codes if not hasattr(IsoCode639_1, c.upper())]
    if unknown:
        raise ValueError(f"Lingua cannot detect {', '.join(unknown)}; use ISO 639-1 codes of its 75 languages")
    return [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in codes]


class LanguageDetector:
    """Lingua over a fixed set of languages; `detect` gives an ISO 639-1 code or None when unsure."""

    def __init__(self, languages: Sequence[str] | str = DEFAULT_LANGUAGES, *, preload: bool = False,
                 min_letters: int = MIN_LETTERS, min_chunk_letters: int = MIN_CHUNK_LETTERS,
                 min_confidence: float = MIN_CONFIDENCE) -> None:
        from lingua import LanguageDetectorBuilder

        members = _lingua_languages(languages)
        if len(members) < 2:
            raise ValueError("language detection needs at least two languages to choose from")
        builder = LanguageDetectorBuilder.from_languages(*members)
        if preload:
            builder = builder.with_preloaded_language_models()
        self._lingua = builder.build()
        self.languages = tuple(m.iso_code_639_1.name.lower() for m in members)
        self.min_letters = min_letters
        self.min_chunk_letters = min_chunk_letters
        self.min_confidence = min_confidence

    def detect(self, text: str, min_letters: int | None = None) -> str | None:
        """The language of a text, or None when it is too short, code only, or no language is likely enough."""
        sample = detection_sample(text)
        if letter_weight(sample) < (self.min_letters if min_letters is None else min_letters):
            return None
        values = self._lingua.compute_language_confidence_values(sample)
        if not values or values[0].value < self.min_confidence:
            return None
        return values[0].language.iso_code_639_1.name.lower()

    __call__ = detect

    def detect_question(self, text: str) -> str | None:
        """Lingua's best guess for a question among the configured languages; None for code or text without letters."""
        sample = question_sample(text)
        if letter_weight(sample) < MIN_QUESTION_LETTERS:
            return None
        values = self._lingua.compute_language_confidence_values(sample)
        return values[0].language.iso_code_639_1.name.lower() if values else None

    def detect_document(self, chunk_texts: Sequence[str]) -> tuple[str | None, list[str | None]]:
        """(document language, per-chunk languages) for the chunks of one document; see `detect_document`."""
        return detect_document(chunk_texts, lambda text: self.detect(text, self.min_chunk_letters), self.detect)


@lru_cache(maxsize=4)
def language_detector(languages: tuple[str, ...] | str = DEFAULT_LANGUAGES, preload: bool = False) -> LanguageDetector:
    """The process-wide detector for a language set, built on first use (models load lazily unless preload)."""
    return LanguageDetector(languages, preload=preload)


# ISO 639-1 codes whose name Lingua lacks or spells differently from what a model expects.
_NAMES = {
    "no": "Norwegian", "nb": "Norwegian Bokmål", "nn": "Norwegian Nynorsk", "sl": "Slovenian", "fil": "Filipino",
    "ne": "Nepali", "ml": "Malayalam", "kn": "Kannada", "my": "Burmese", "km": "Khmer", "lo": "Lao",
    "si": "Sinhala", "am": "Amharic",
}


def language_name(code: str | None) -> str:
    """The English name of an ISO 639-1 code or tag ("ja" -> "Japanese", "pt-BR" -> "Portuguese (pt-BR)");
    "" for None, the code itself when it is unknown."""
    if not code or not code.strip():
        return ""
    tag = code.strip()
    base = tag.split("-")[0].split("_")[0].lower()
    name = _NAMES.get(base) or _lingua_name(base)
    if name is None:
        return tag
    return name if tag.lower() == base else f"{name} ({tag})"


def _lingua_name(base: str) -> str | None:
    """The name Lingua gives an ISO 639-1 code, title-cased, or None."""
    from lingua import IsoCode639_1, Language

    iso = getattr(IsoCode639_1, base.upper(), None) if len(base) == 2 else None
    return Language.from_iso_code_639_1(iso).name.title() if iso is not None else None


def language_codes(languages: Sequence[str] | str) -> tuple[str, ...]:
    """The ISO 639-1 codes of a language set: the codes themselves, or every Lingua language for `all`."""
    if languages != ALL_LANGUAGES:
        return tuple(languages)
    return tuple(lang.iso_code_639_1.name.lower() for lang in _lingua_languages(ALL_LANGUAGES))
