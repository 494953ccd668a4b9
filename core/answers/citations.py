"""Citation markers in an answer ([1], [2][3], [1, 3], [1-2], 【1】) mapped to the passages they point to.

Not citations: anything inside code (fenced blocks, `inline code`), Markdown links `[text](url)` and link
definitions `[1]: url`, and square brackets right after an identifier, `)` or `]` (indexing such as `arr[0]`,
`f()[1]`), except when chained to a citation (`[2][3]`). After a plain number (`returns 401[1]`), after
non-ASCII text (`返回401[1]。`) or a space they are citations; so are full-width brackets 【1】 anywhere.
An ASCII word glued to the bracket (`hour[1]`) is read as code: the prompt's examples put a space first.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from core.types import Candidate, Citation

MAX_RANGE = 10  # [1-3] is a range of citations; [1-500] is not
_NUMBERS = r"\d{1,3}(?:\s*[-–]\s*\d{1,3})?(?:\s*[,，、;；]\s*\d{1,3}(?:\s*[-–]\s*\d{1,3})?)*"
_MARK = rf"(?:\[\s*{_NUMBERS}\s*\]|【\s*{_NUMBERS}\s*】)"
_MARKERS = re.compile(rf"(?<![)\]]){_MARK}(?:\s*{_MARK})*(?!\()")
_WORD_BEFORE = re.compile(r"[A-Za-z0-9_]+$")
_ONE_MARK = re.compile(_MARK)
_NUMBER_OR_RANGE = re.compile(r"(\d+)(?:\s*[-–]\s*(\d+))?")
_CODE_AND_LINKS = re.compile(
    r"(?ms)^[ \t]*(```|~~~).*?(?:^[ \t]*\1[^\n]*$|\Z)"  # fenced code
    r"|`[^`\n]*`"  # inline code
    r"|!?\[[^\]\n]*\]\([^)\n]*\)"  # links and images
    r"|^[ \t]*\[[^\]\n]+\]:[ \t]*\S.*$"  # link definitions
)


def marker_numbers(text: str) -> list[int]:
    """Every number cited in the text, in order, repeats included."""
    prose = _CODE_AND_LINKS.sub(" ", unicodedata.normalize("NFKC", text))
    numbers: list[int] = []
    for run in _MARKERS.finditer(prose):
        if run.group().startswith("[") and _indexes_code(prose[max(0, run.start() - 80) : run.start()]):
            continue
        for mark in _ONE_MARK.finditer(run.group()):
            numbers += _expand(mark.group())
    return numbers


def _indexes_code(before: str) -> bool:
    """True when a `[` follows an identifier (`arr[0]`, `x1[2]`); a plain number (`401[1]`) is prose."""
    word = _WORD_BEFORE.search(before)
    return word is not None and not word.group().isdigit()


def _expand(mark: str) -> list[int]:
    """The numbers of one bracket: [1, 3] -> 1, 3; [1-3] -> 1, 2, 3; [] for a range that is no citation."""
    numbers: list[int] = []
    for match in _NUMBER_OR_RANGE.finditer(mark):
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if not first <= last <= first + MAX_RANGE:
            return []
        numbers += range(first, last + 1)
    return numbers


def parse_citations(text: str, candidates: Sequence[Candidate]) -> tuple[tuple[Citation, ...], tuple[int, ...]]:
    """(citations of existing passages in order of first appearance, markers pointing to no passage), each once."""
    valid: dict[int, Citation] = {}
    invalid: dict[int, None] = {}
    for number in marker_numbers(text):
        if 1 <= number <= len(candidates):
            valid.setdefault(number, Citation(marker=number, candidate=candidates[number - 1]))
        else:
            invalid.setdefault(number, None)
    return tuple(valid.values()), tuple(invalid)


def invalid_marker_warning(invalid: Sequence[int], passages: int) -> str | None:
    """A warning naming the markers that point to no passage, or None when there are none."""
    if not invalid:
        return None
    markers = " ".join(f"[{n}]" for n in invalid)
    return f"The answer cites {markers}, which match none of the {passages} passages given: not shown as sources."
