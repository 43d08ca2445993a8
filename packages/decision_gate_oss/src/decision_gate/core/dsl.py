"""The requirement DSL: `all(env_ok, any(approved, not blocked))` to a requirement tree.

An authoring convenience with the reference's grammar and limits (spec §2.7):
`&&`/`and` binds tighter than `||`/`or`, `!`/`not` tighter still; `all(...)`,
`any(...)`, `at_least(N, ...)`/`require_group(N, ...)`; `name` or `name()` is
a condition resolved through the caller's resolver. Input is untrusted:
it is capped at 1 MiB, parentheses and calls nest at most 32 deep, a run of
prefix negations is read in a loop (never recursion), and the finished tree
must pass `validate_requirement`, so the DSL can only produce trees that
define successfully.

Positions in errors are offsets into the input; any character outside the
DSL's ASCII alphabet is an error where it stands, so these equal the
reference's byte offsets.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping

import attrs

from decision_gate.core.errors import InvalidInput
from decision_gate.core.requirement import (
    MAX_GROUP_MIN,
    And,
    Condition,
    Not,
    Or,
    RequireGroup,
    Requirement,
    validate_requirement,
)

MAX_INPUT_BYTES = 1024 * 1024
MAX_NESTING = 32

Resolver = Callable[[str], str | None] | Mapping[str, str]


class DslErrorKind(enum.Enum):
    EMPTY_INPUT = "empty_input"
    INPUT_TOO_LARGE = "input_too_large"
    NESTING_TOO_DEEP = "nesting_too_deep"
    UNEXPECTED_TOKEN = "unexpected_token"  # noqa: S105 - a parse error name, not a secret
    UNKNOWN_CONDITION = "unknown_condition"
    UNKNOWN_FUNCTION = "unknown_function"
    INVALID_NUMBER = "invalid_number"
    VALIDATION = "validation"
    TRAILING_INPUT = "trailing_input"


class DslError(InvalidInput):
    """A DSL expression that does not parse, resolve or validate."""

    def __init__(self, reason: DslErrorKind, message: str, position: int | None = None) -> None:
        self.reason = reason
        self.position = position
        super().__init__(message)


class _TokenKind(enum.Enum):
    IDENT = "identifier"
    NUMBER = "number"
    AND = "&&"
    OR = "||"
    NOT = "!"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    EOF = "end of input"


@attrs.frozen
class _Token:
    kind: _TokenKind
    text: str
    position: int

    def describe(self) -> str:
        if self.kind in (_TokenKind.IDENT, _TokenKind.NUMBER):
            return _shorten(self.text)
        return str(self.kind.value)


_TOKEN = re.compile(
    r"(?P<space>[ \t\n\r]+)|(?P<number>[0-9]+)|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<and>&&)|(?P<or>\|\|)|(?P<punct>[(),!])"
)
_KEYWORDS = {"and": _TokenKind.AND, "or": _TokenKind.OR, "not": _TokenKind.NOT}
_PUNCTUATION = {
    "(": _TokenKind.LPAREN,
    ")": _TokenKind.RPAREN,
    ",": _TokenKind.COMMA,
    "!": _TokenKind.NOT,
}
_ECHO_LIMIT = 40


def _shorten(text: str) -> str:
    return text if len(text) <= _ECHO_LIMIT else f"{text[:_ECHO_LIMIT]}..."


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    offset = 0
    while offset < len(text):
        match = _TOKEN.match(text, offset)
        if match is None:
            found = text[offset]
            expected = {"&": "&&", "|": "||"}.get(found, "identifier, number, or operator")
            raise DslError(
                DslErrorKind.UNEXPECTED_TOKEN,
                f"unexpected token `{found}` at {offset}, expected {expected}",
                offset,
            )
        group = match.lastgroup
        lexeme = match.group()
        if group == "ident":
            tokens.append(_Token(_KEYWORDS.get(lexeme, _TokenKind.IDENT), lexeme, offset))
        elif group == "number":
            tokens.append(_Token(_TokenKind.NUMBER, lexeme, offset))
        elif group == "and":
            tokens.append(_Token(_TokenKind.AND, lexeme, offset))
        elif group == "or":
            tokens.append(_Token(_TokenKind.OR, lexeme, offset))
        elif group == "punct":
            tokens.append(_Token(_PUNCTUATION[lexeme], lexeme, offset))
        offset = match.end()
    if not tokens:
        raise DslError(DslErrorKind.EMPTY_INPUT, "input is empty")
    tokens.append(_Token(_TokenKind.EOF, "", offset))
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Token], resolve: Callable[[str], str | None]) -> None:
        self._tokens = tokens
        self._index = 0
        self._resolve = resolve
        self._nesting = 0

    @property
    def _current(self) -> _Token:
        return self._tokens[self._index]

    def _advance(self) -> _Token:
        token = self._tokens[self._index]
        if self._index < len(self._tokens) - 1:
            self._index += 1
        return token

    def _accept(self, kind: _TokenKind) -> bool:
        if self._current.kind is kind:
            self._advance()
            return True
        return False

    def _expect(self, kind: _TokenKind, expected: str) -> None:
        if not self._accept(kind):
            raise self._unexpected(expected)

    def _unexpected(self, expected: str) -> DslError:
        token = self._current
        return DslError(
            DslErrorKind.UNEXPECTED_TOKEN,
            f"unexpected token `{token.describe()}` at {token.position}, expected {expected}",
            token.position,
        )

    def expression(self) -> Requirement:
        parts = [self._conjunction()]
        while self._accept(_TokenKind.OR):
            parts.append(self._conjunction())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def _conjunction(self) -> Requirement:
        parts = [self._unary()]
        while self._accept(_TokenKind.AND):
            parts.append(self._unary())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def _unary(self) -> Requirement:
        negations = 0
        while self._accept(_TokenKind.NOT):
            negations += 1
        node = self._primary()
        for _ in range(negations):
            node = Not(node)
        return node

    def _primary(self) -> Requirement:
        token = self._current
        if token.kind is _TokenKind.IDENT:
            self._advance()
            if self._accept(_TokenKind.LPAREN):
                return self._nested(token.position, lambda: self._call(token))
            return self._condition(token)
        if token.kind is _TokenKind.LPAREN:
            self._advance()
            return self._nested(token.position, self._parenthesised)
        if token.kind is _TokenKind.NUMBER:
            raise self._unexpected("identifier or `(`")
        raise self._unexpected("condition or expression")

    def _parenthesised(self) -> Requirement:
        inner = self.expression()
        self._expect(_TokenKind.RPAREN, "`)`")
        return inner

    def _nested(self, position: int, parse: Callable[[], Requirement]) -> Requirement:
        depth = self._nesting + 1
        if depth > MAX_NESTING:
            raise DslError(
                DslErrorKind.NESTING_TOO_DEEP,
                f"input nesting exceeds limit: depth {depth} (max {MAX_NESTING}) at {position}",
                position,
            )
        self._nesting = depth
        try:
            return parse()
        finally:
            self._nesting -= 1

    def _call(self, name: _Token) -> Requirement:
        if name.text in ("at_least", "require_group"):
            return self._group()
        arguments = self._arguments()
        if name.text == "all":
            return And(tuple(arguments))
        if name.text == "any":
            return Or(tuple(arguments))
        if not arguments:
            return self._condition(name)
        raise DslError(
            DslErrorKind.UNKNOWN_FUNCTION,
            f"unknown function `{_shorten(name.text)}` at {name.position}",
            name.position,
        )

    def _group(self) -> Requirement:
        count = self._current
        if count.kind is not _TokenKind.NUMBER:
            raise self._unexpected("numeric literal")
        self._advance()
        digits = count.text.lstrip("0")
        if len(digits) > len(str(MAX_GROUP_MIN)) or int(digits or "0") > MAX_GROUP_MIN:
            raise DslError(
                DslErrorKind.INVALID_NUMBER,
                f"invalid number `{_shorten(count.text)}` at {count.position}",
                count.position,
            )
        self._accept(_TokenKind.COMMA)
        if self._current.kind is _TokenKind.RPAREN:
            raise DslError(
                DslErrorKind.UNEXPECTED_TOKEN,
                f"unexpected token `)` at {count.position}, "
                "expected at least one condition after the count",
                count.position,
            )
        members = [self.expression()]
        while self._accept(_TokenKind.COMMA):
            members.append(self.expression())
        self._expect(_TokenKind.RPAREN, "`)` after `at_least(...)`")
        return RequireGroup(int(digits or "0"), tuple(members))

    def _arguments(self) -> list[Requirement]:
        if self._accept(_TokenKind.RPAREN):
            return []
        arguments = [self.expression()]
        while self._accept(_TokenKind.COMMA):
            arguments.append(self.expression())
        self._expect(_TokenKind.RPAREN, "`)` after arguments")
        return arguments

    def _condition(self, name: _Token) -> Requirement:
        condition_id = self._resolve(name.text)
        if condition_id is None:
            raise DslError(
                DslErrorKind.UNKNOWN_CONDITION,
                f"unknown condition `{_shorten(name.text)}` at {name.position}",
                name.position,
            )
        return Condition(condition_id)

    def end(self) -> None:
        if self._current.kind is not _TokenKind.EOF:
            raise DslError(
                DslErrorKind.TRAILING_INPUT,
                f"unexpected trailing input at {self._current.position}",
                self._current.position,
            )


def parse_requirement(text: str, resolver: Resolver) -> Requirement:
    """Parse, resolve and validate a DSL expression; `DslError` says what and where."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_INPUT_BYTES:
        raise DslError(
            DslErrorKind.INPUT_TOO_LARGE,
            f"input exceeds size limit: {size} bytes (max {MAX_INPUT_BYTES})",
        )
    resolve = resolver.get if isinstance(resolver, Mapping) else resolver
    parser = _Parser(_lex(text), resolve)
    requirement = parser.expression()
    parser.end()
    try:
        validate_requirement(requirement)
    except InvalidInput as error:
        raise DslError(DslErrorKind.VALIDATION, error.detail) from None
    return requirement
