"""The part of X's search query language the fake understands: words, "phrases", #hashtags, @mentions,
from:/to:, is:retweet|reply|quote, has:hashtags|mentions, lang:, -negation, OR, and parentheses.

As on X, terms side by side must all match (AND), and AND binds tighter than OR.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_QUERY_LENGTH = 512

_TOKEN_RE = re.compile(r'-?\(|\)|-?"[^"]*"|[^\s()"]+')
_WORD_RE = re.compile(r"\w+")
_OPERATORS = {"from", "to", "is", "has", "lang", "conversation_id", "retweets_of"}
_IS_VALUES = {"retweet", "reply", "quote", "verified", "nullcast"}
_HAS_VALUES = {"hashtags", "mentions", "links", "media", "images", "videos", "cashtags", "geo"}


class QueryError(ValueError):
    """The query cannot be parsed; the message is what X would say."""


@dataclass(frozen=True)
class TweetView:
    """What a query can look at in one tweet."""

    text: str
    author_username: str
    hashtags: frozenset[str]  # lower case
    mentions: frozenset[str]  # lower case usernames
    is_retweet: bool
    is_reply: bool
    in_reply_to_username: str | None
    conversation_id: str
    retweet_of_author: str | None


def _words(text: str) -> str:
    return " " + " ".join(_WORD_RE.findall(text.lower())) + " "


@dataclass(frozen=True)
class Term:
    kind: str
    value: str

    def matches(self, t: TweetView) -> bool:
        v = self.value.lower()
        if self.kind == "word":
            return _words(v) in _words(t.text)
        if self.kind == "phrase":
            return v in t.text.lower()
        if self.kind == "hashtag":
            return v in t.hashtags
        if self.kind == "mention":
            return v in t.mentions
        if self.kind == "from":
            return t.author_username.lower() == v
        if self.kind == "to":
            return (t.in_reply_to_username or "").lower() == v
        if self.kind == "is":
            return {"retweet": t.is_retweet, "reply": t.is_reply}.get(v, False)
        if self.kind == "has":
            return {"hashtags": bool(t.hashtags), "mentions": bool(t.mentions)}.get(v, False)
        if self.kind == "lang":
            return v == "en"
        if self.kind == "conversation_id":
            return t.conversation_id == self.value
        if self.kind == "retweets_of":
            return (t.retweet_of_author or "").lower() == v
        return False


@dataclass(frozen=True)
class Not:
    node: Node

    def matches(self, t: TweetView) -> bool:
        return not self.node.matches(t)


@dataclass(frozen=True)
class And:
    nodes: tuple[Node, ...]

    def matches(self, t: TweetView) -> bool:
        return all(n.matches(t) for n in self.nodes)


@dataclass(frozen=True)
class Or:
    nodes: tuple[Node, ...]

    def matches(self, t: TweetView) -> bool:
        return any(n.matches(t) for n in self.nodes)


Node = Term | Not | And | Or


def _term(raw: str) -> Term:
    if raw.startswith('"'):
        return Term("phrase", raw.strip('"'))
    if raw.startswith("#") and len(raw) > 1:
        return Term("hashtag", raw[1:])
    if raw.startswith("@") and len(raw) > 1:
        return Term("mention", raw[1:])
    name, sep, value = raw.partition(":")
    if sep and name and re.fullmatch(r"[a-z_]+", name):
        if name not in _OPERATORS:
            raise QueryError(f"There were errors processing your request: Reference to invalid operator '{name}'")
        if not value:
            raise QueryError(f"There were errors processing your request: Missing value for operator '{name}'")
        if name == "is" and value not in _IS_VALUES:
            raise QueryError(f"There were errors processing your request: Reference to invalid field '{value}'")
        if name == "has" and value not in _HAS_VALUES:
            raise QueryError(f"There were errors processing your request: Reference to invalid field '{value}'")
        return Term(name, value)
    return Term("word", raw)


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expr(self) -> Node:
        parts = [self.conjunction()]
        while self.peek() == "OR":
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def conjunction(self) -> Node:
        parts: list[Node] = []
        while (token := self.peek()) is not None and token not in {"OR", ")"}:
            parts.append(self.unary())
        if not parts:
            raise QueryError("There were errors processing your request: Ambiguous use of or")
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def unary(self) -> Node:
        part = self.take()
        negated = part.startswith("-") and len(part) > 1
        if negated:
            part = part[1:]
        node: Node
        if part == "(":
            node = self.expr()
            if self.peek() != ")":
                raise QueryError("There were errors processing your request: Unbalanced parentheses")
            self.take()
        else:
            node = _term(part)
        return Not(node) if negated else node


def parse_query(query: str) -> Node:
    """Parse a search query, or raise QueryError with X's wording."""
    if not query.strip():
        raise QueryError("The `query` query parameter can not be empty")
    if len(query) > MAX_QUERY_LENGTH:
        raise QueryError(f"The `query` query parameter value is too long (maximum {MAX_QUERY_LENGTH} characters)")
    if query.count('"') % 2:
        raise QueryError("There were errors processing your request: Unbalanced quotes")
    parser = _Parser(_TOKEN_RE.findall(query))
    node = parser.expr()
    if parser.peek() is not None:
        raise QueryError("There were errors processing your request: Unbalanced parentheses")
    return node
