"""Read a tweet: is it asking for help or offering it, which skills it names, and where.

Pure functions and a parser built once from the skill taxonomy; no I/O.

How words match. Text and terms are compared as words, not characters: both are folded (lowercase,
accents removed, punctuation and hyphens become spaces), so "Door-to-door", "door to door" and
"DOOR TO DOOR" are the same. Each word of a term (a skill's name or one of its synonyms) of three
letters or more also matches its common inflections: the term plus "s", "es", "er", "ers" or "ing"
(a final "e" may drop before "er"/"ing", a final consonant-"y" may become "ies"). So "design
leaflets" matches "designing leaflets" and "canvass" matches "canvassers". Terms are never cut down
to a stem: a synonym written "talks" does not match "talk", because the taxonomy lists plural-only
words on purpose; write the stem when the stem should count.

Overlaps. Scanning left to right, the longest term starting at a word wins and its words are used
up. "design leaflets" (graphic design) therefore takes the word "leaflets" away from leafleting: the
tweet asks for someone to design leaflets, not to deliver them; "deliver leaflets" still finds
leafleting. Hashtags count as words ("#canvassing"); CamelCase hashtags are split into words
("#PhoneBanking") and a hashtag also matches a term written without spaces ("#phonebanking").
@mentions and links are ignored.

Constituencies. A full name matches with or without "and"/"&" and punctuation, or as a hashtag
("#ManchesterWithington"). Short forms come from the data, not a hand list: when several names
start with the same place ("Manchester Central", "Manchester Rusholme", "Manchester Withington"),
the rest of each name ("Withington") is a short form; when a name is a place followed by compass
words ("Enfield North"), the place is a short form. A short form is kept only if it is not made of
generic words (North, Central, City, ...), is not an everyday word (Test, Pavilion, Riverside ...),
and appears in no other constituency's name. If a tweet names two different constituencies the
answer is None: a wrong place is worse than none.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

from lx_contracts.constituencies import all_constituencies

MAX_TEXT = 1_000
Intent = Literal["ask", "offer", "other"]

_DROP = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")
_SPACE = re.compile(r"[\t\n\r\f\v]")


def clean_text(raw: str) -> str:
    """Text fit to store and show: no control characters, NFC, single spaces, at most 1,000 characters."""
    if not isinstance(raw, str) or not raw:
        return ""
    text = _DROP.sub("", _SPACE.sub(" ", raw))
    text = " ".join(unicodedata.normalize("NFC", text).split())
    return text[:MAX_TEXT].rstrip()


@dataclass(frozen=True)
class SkillTerm:
    slug: str
    name: str
    synonyms: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "synonyms", tuple(self.synonyms))


@dataclass(frozen=True)
class Parsed:
    intent: Intent
    skills: list[str]
    constituency_code: str | None


# --- words -------------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+")
_SEGMENT = re.compile(r"(?P<skip>https?://\S+|www\.\S+|@\w+)|(?P<tag>#\w+)|(?P<word>[^\W_]+)")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=[0-9])")
_SUFFIXES = ("s", "es", "er", "ers", "ing")
_VOWELS = set("aeiou")


def fold(text: str) -> str:
    """Lowercase, strip accents, '&' read as 'and', typographic apostrophes made plain."""
    text = unicodedata.normalize("NFKD", text.casefold().replace("&", " and ").replace("’", "'"))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def inflections(word: str) -> frozenset[str]:
    """The word and its common plural, agent and verb forms."""
    forms = {word}
    if len(word) >= 3 and word.isalpha():
        forms.update(word + suffix for suffix in _SUFFIXES)
        if word.endswith("e"):
            forms.update((word[:-1] + "ing", word + "r", word + "rs"))
        if word.endswith("y") and word[-2] not in _VOWELS:
            forms.add(word[:-1] + "ies")
    return frozenset(forms)


@dataclass(frozen=True)
class _Token:
    word: str
    pos: int


def _tokens(text: str) -> tuple[list[_Token], list[_Token]]:
    """Words of the text in order (hashtags split into words), and each hashtag as one compact word."""
    stream: list[_Token] = []
    tags: list[_Token] = []
    for match in _SEGMENT.finditer(text):
        if match.group("skip"):
            continue
        tag = match.group("tag")
        if tag:
            body = tag[1:]
            compact = "".join(words(body))
            if compact:
                tags.append(_Token(compact, len(stream)))
            found = [w for part in body.split("_") for w in words(_CAMEL.sub(" ", part))]
        else:
            found = words(match.group("word"))
        for word in found:
            stream.append(_Token(word, len(stream)))
    return stream, tags


class _PhraseIndex:
    """Leftmost-longest, non-overlapping matching of word phrases to values."""

    def __init__(self, inflect: bool) -> None:
        self._inflect = inflect
        self._by_first: dict[str, list[tuple[tuple[frozenset[str], ...], str]]] = {}
        self._compact: dict[str, set[str]] = {}
        self._seen: set[tuple[tuple[str, ...], str]] = set()

    def add(self, phrase: list[str], value: str) -> None:
        if not phrase or (tuple(phrase), value) in self._seen:
            return
        self._seen.add((tuple(phrase), value))
        forms = tuple(inflections(w) if self._inflect else frozenset((w,)) for w in phrase)
        for first in forms[0]:
            entries = self._by_first.setdefault(first, [])
            entries.append((forms, value))
            entries.sort(key=lambda entry: -len(entry[0]))  # longest first; built once, so sorting here is cheap
        head = "".join(phrase[:-1])
        for last in forms[-1]:
            self._compact.setdefault(head + last, set()).add(value)

    def find(self, stream: list[_Token], tags: list[_Token]) -> list[tuple[int, str]]:
        """(position, value) pairs in order of appearance."""
        found: list[tuple[int, str]] = []
        i = 0
        while i < len(stream):
            best = 0
            for forms, value in self._by_first.get(stream[i].word, ()):
                size = len(forms)
                if size < best:
                    break
                if i + size <= len(stream) and all(stream[i + k].word in forms[k] for k in range(1, size)):
                    best = size
                    found.append((stream[i].pos, value))
            i += best or 1
        for tag in tags:
            found.extend((tag.pos, value) for value in sorted(self._compact.get(tag.word, ())))
        found.sort(key=lambda item: item[0])
        return found


# --- constituencies ------------------------------------------------------------------------------

GENERIC = frozenset(
    "north south east west central mid inner outer rural city cities town and of the upon on under in st".split()
)
# Short forms that are everyday words: a tweet saying "test" or "riverside" names no constituency.
EVERYDAY = frozenset("test pavilion riverside park valley forest hill hills green abbot".split())
_CONNECTIVES = frozenset({"and", "of", "the", "upon", "on", "under", "in"})


def _place_words(name: str) -> list[str]:
    """Words of a name for matching: hyphens split, 'and' and 'saint' made irrelevant."""
    return [("st" if w == "saint" else w) for w in words(name) if w != "and"]


@cache
def _constituency_index() -> tuple[_PhraseIndex, dict[str, str]]:
    places = all_constituencies()
    index = _PhraseIndex(inflect=False)
    for place in places:
        index.add(_place_words(place.name), place.code)

    # Names split on spaces and commas only, so "Newcastle-under-Lyme" stays one place.
    names = {p.code: fold(p.name).replace(",", " ").split() for p in places}
    phrases = {p.code: " ".join(_place_words(p.name)) for p in places}
    prefix_count: dict[tuple[str, ...], int] = {}
    for parts in names.values():
        for k in range(1, len(parts)):
            prefix_count[tuple(parts[:k])] = prefix_count.get(tuple(parts[:k]), 0) + 1

    candidates: dict[str, set[str]] = {}
    for code, parts in names.items():
        # "Manchester Withington" beside "Manchester Rusholme": the rest after the shared place.
        shared = [k for k in range(1, len(parts)) if prefix_count[tuple(parts[:k])] >= 2]
        if shared and not set(parts[: shared[-1]]) <= GENERIC:
            rest = parts[shared[-1] :]
            if rest[0] == "and":
                rest = rest[1:]
            # "East and Saddleworth" names two things, one of them only a direction: not a short form.
            if rest and rest[0] not in _CONNECTIVES and not (rest[0] in GENERIC and "and" in rest):
                candidates.setdefault(" ".join(_place_words(" ".join(rest))), set()).add(code)
        # "Enfield North", "Altrincham and Sale West": the place without its compass words.
        core = list(parts)
        while len(core) > 1 and core[-1] in GENERIC:
            core.pop()
        if len(core) < len(parts):
            candidates.setdefault(" ".join(_place_words(" ".join(core))), set()).add(code)

    short_forms: dict[str, str] = {}
    for phrase, codes in candidates.items():
        phrase_words = phrase.split()
        if len(codes) != 1 or not phrase_words or set(phrase_words) <= GENERIC | EVERYDAY:
            continue
        padded = f" {phrase} "
        if sum(padded in f" {other} " for other in phrases.values()) != 1:
            continue
        code = next(iter(codes))
        short_forms[phrase] = code
        index.add(phrase_words, code)
    return index, short_forms


def constituency_short_forms() -> dict[str, str]:
    """Short form (folded words) → constituency code, derived from the constituency names."""
    return dict(_constituency_index()[1])


# --- intent ------------------------------------------------------------------------------------

_ASK = re.compile(
    r"\b(?:need(?:s|ed|ing)?|looking\s+for|can\s+any\s*(?:one|body)|could\s+any\s*(?:one|body)"
    r"|can\s+some\s*(?:one|body)|could\s+some\s*(?:one|body)|is\s+any\s*(?:one|body)|does\s+any\s*(?:one|body)"
    r"|any\s*(?:one|body)\s+(?:able|free|available|around|up\s+for|willing|fancy|know)|who\s+can|who\s+could"
    r"|help\s+wanted|wanted(?!\s+to\b)|seeking|(?:volunteers?|helpers?|help)\s+(?:needed|required|wanted)|required"
    r"|any\s+volunteers|calling\s+all|appeal\s+for|short\s+of|shout\s+out\s+for|please\s+help)\b"
)
_QUESTION_NEED = re.compile(r"\b(?:any\s*(?:one|body)?|some\s*(?:one|body)|help|free|available|volunteers?|spare)\b")
_OFFER = re.compile(
    r"\b(?:i\s+can|i\s+could|i'll|i\s+will|we\s+can|happy\s+to|glad\s+to|willing\s+to|available\s+to"
    r"|i'?m\s+available|i\s+am\s+available|i'?m\s+free|i\s+am\s+free|offering|i\s+offer|can\s+offer"
    r"|can\s+help\s+with|(?:i'?m|i\s+am)\s+an?\s+(?:[\w-]+\s+){1,4}(?:and|who|that)?\s*(?:can|could)\s+help"
    r"|count\s+me\s+in|i'?d\s+love\s+to\s+help|i\s+(?:would|'d)\s+like\s+to\s+help|i\s+volunteer|at\s+your\s+service)\b"
)
# "Happy to help if anyone needs a driver": a need stated as a condition belongs to the offer.
_CONDITIONAL_NEED = re.compile(
    r"\b(?:if|in\s+case|whenever|should)\s+(?:you|any\s*(?:one|body)|some\s*(?:one|body)|any\s+\w+|the\s+\w+)"
    r"(?:\s+\w+)?\s+(?:need|needs|want|wants|require|requires)\b"
    r"|\b(?:do|does)\s+(?:you|any\s*(?:one|body)|some\s*(?:one|body))\s+(?:need|want)\b"
)


def classify_intent(text: str) -> Intent:
    lowered = " ".join(fold(text).split())
    offers = bool(_OFFER.search(lowered))
    unconditional = _CONDITIONAL_NEED.sub(" ", lowered)
    asks = bool(_ASK.search(unconditional)) or ("?" in unconditional and bool(_QUESTION_NEED.search(unconditional)))
    if asks:
        return "ask"
    return "offer" if offers else "other"


# --- the parser ----------------------------------------------------------------------------------


class TweetParser:
    """Built once per taxonomy; `parse` is then a few dictionary look-ups per word."""

    def __init__(self, skills: Iterable[SkillTerm]) -> None:
        self._skills = _PhraseIndex(inflect=True)
        for skill in skills:
            for term in (skill.name, *skill.synonyms):
                self._skills.add(words(term), skill.slug)
        self._places, _ = _constituency_index()

    def parse(self, text: str) -> Parsed:
        cleaned = clean_text(text)
        stream, tags = _tokens(cleaned)
        slugs = list(dict.fromkeys(value for _, value in self._skills.find(stream, tags)))
        place_stream = [t for t in stream if t.word != "and"]
        place_stream = [_Token("st" if t.word == "saint" else t.word, t.pos) for t in place_stream]
        codes = {value for _, value in self._places.find(place_stream, tags)}
        return Parsed(
            intent=classify_intent(cleaned),
            skills=slugs,
            constituency_code=next(iter(codes)) if len(codes) == 1 else None,
        )
