"""Requirement trees (RET): the boolean shape of a gate over condition ids.

A tree has exactly five node kinds (`And`, `Or`, `Not`, `RequireGroup`,
`Condition`) and travels as serde's externally tagged JSON
(`{"And": [...]}`, `{"RequireGroup": {"min": 2, "reqs": [...]}}`).

Invariants this module keeps:

* Evaluation is the reference's tri-state algorithm exactly: every child is
  evaluated (no short-circuit), so the trace lists every leaf in depth-first,
  left-to-right order, duplicates included. A node deeper than
  `MAX_EVAL_DEPTH` (root = 0) makes the whole tree Unknown while keeping the
  trace collected before it; such trees still parse, as in the reference.
* Parsing never recurses without bound: JSON nested deeper than
  `MAX_PARSE_DEPTH` is rejected with the path of the first node too deep, and
  every traversal of a caller-built tree (depth, ids, validation) walks an
  explicit stack.
* `validate_requirement` is stricter than the reference's define step: it
  rejects trees that are too deep and groups that can never be satisfied or
  are always satisfied, so an author learns at define time, not at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeAlias

import attrs

from decision_gate.core.errors import InvalidInput
from decision_gate.core.jsonvalue import JsonValue
from decision_gate.core.tristate import LogicMode, TriState, require_group

MAX_EVAL_DEPTH = 32
"""Deepest node depth (root = 0) that evaluation accepts; deeper means Unknown."""

MAX_PARSE_DEPTH = 64
"""Deepest node depth `requirement_from_json` accepts; twice the evaluation limit
so trees the reference would accept (and evaluate to Unknown) still parse."""

MAX_GROUP_MIN = 255
"""`RequireGroup.min` is a u8 on the wire."""


@attrs.frozen(cache_hash=True)
class And:
    children: tuple[Requirement, ...]


@attrs.frozen(cache_hash=True)
class Or:
    children: tuple[Requirement, ...]


@attrs.frozen(cache_hash=True)
class Not:
    child: Requirement


@attrs.frozen(cache_hash=True)
class RequireGroup:
    """At least `min` of `reqs` must hold."""

    min: int
    reqs: tuple[Requirement, ...]


@attrs.frozen(cache_hash=True)
class Condition:
    condition_id: str


Requirement: TypeAlias = And | Or | Not | RequireGroup | Condition

LeafStatus: TypeAlias = Callable[[str], TriState]
Trace: TypeAlias = list[tuple[str, TriState]]

_KINDS = ("And", "Or", "Not", "RequireGroup", "Condition")


# ---------------------------------------------------------------------------
# Wire form
# ---------------------------------------------------------------------------


def requirement_from_json(obj: JsonValue, path: str = "$") -> Requirement:
    """Parse the externally tagged wire form; errors carry the JSON path of the bad node."""
    return _parse(obj, path, 0)


def _parse(obj: JsonValue, path: str, depth: int) -> Requirement:
    if depth > MAX_PARSE_DEPTH:
        raise InvalidInput(f"requirement nested deeper than {MAX_PARSE_DEPTH} levels", path=path)
    if not isinstance(obj, dict):
        raise InvalidInput(
            f"a requirement must be an object with one of the keys {', '.join(_KINDS)}",
            path=path,
        )
    if len(obj) != 1:
        raise InvalidInput(
            f"a requirement object must have exactly one key, one of {', '.join(_KINDS)}; "
            f"found {len(obj)}",
            path=path,
        )
    ((kind, body),) = obj.items()
    here = f"{path}.{kind}" if kind in _KINDS else path
    if kind in ("And", "Or"):
        if not isinstance(body, list):
            raise InvalidInput(f"{kind} takes an array of requirements", path=here)
        children = tuple(
            _parse(child, f"{here}[{index}]", depth + 1) for index, child in enumerate(body)
        )
        return And(children) if kind == "And" else Or(children)
    if kind == "Not":
        return Not(_parse(body, here, depth + 1))
    if kind == "RequireGroup":
        return _parse_group(body, here, depth)
    if kind == "Condition":
        if not isinstance(body, str):
            raise InvalidInput("Condition takes a condition id string", path=here)
        return Condition(body)
    shown = kind if len(kind) <= 64 else kind[:61] + "..."
    raise InvalidInput(
        f"unknown requirement kind {shown!r}; expected one of {', '.join(_KINDS)}", path=path
    )


def _parse_group(body: JsonValue, path: str, depth: int) -> RequireGroup:
    if not isinstance(body, dict):
        raise InvalidInput('RequireGroup takes an object {"min": n, "reqs": [...]}', path=path)
    if "min" not in body:
        raise InvalidInput("missing field 'min'", path=path)
    if "reqs" not in body:
        raise InvalidInput("missing field 'reqs'", path=path)
    minimum = body["min"]
    if type(minimum) is not int or not 0 <= minimum <= MAX_GROUP_MIN:
        raise InvalidInput(f"min must be an integer from 0 to {MAX_GROUP_MIN}", path=f"{path}.min")
    reqs = body["reqs"]
    if not isinstance(reqs, list):
        raise InvalidInput("reqs takes an array of requirements", path=f"{path}.reqs")
    members = tuple(
        _parse(member, f"{path}.reqs[{index}]", depth + 1) for index, member in enumerate(reqs)
    )
    return RequireGroup(minimum, members)


def requirement_to_json(req: Requirement) -> JsonValue:
    """The externally tagged wire form, as the reference serializes it."""
    if isinstance(req, Condition):
        return {"Condition": req.condition_id}
    if isinstance(req, Not):
        return {"Not": requirement_to_json(req.child)}
    if isinstance(req, And):
        return {"And": [requirement_to_json(child) for child in req.children]}
    if isinstance(req, Or):
        return {"Or": [requirement_to_json(child) for child in req.children]}
    return {
        "RequireGroup": {
            "min": req.min,
            "reqs": [requirement_to_json(member) for member in req.reqs],
        }
    }


# ---------------------------------------------------------------------------
# Structure
# ---------------------------------------------------------------------------


def _children(req: Requirement) -> tuple[Requirement, ...]:
    if isinstance(req, And | Or):
        return req.children
    if isinstance(req, RequireGroup):
        return req.reqs
    if isinstance(req, Not):
        return (req.child,)
    return ()


def _child_paths(req: Requirement, path: str) -> Iterator[tuple[Requirement, str]]:
    if isinstance(req, And):
        for index, child in enumerate(req.children):
            yield child, f"{path}.And[{index}]"
    elif isinstance(req, Or):
        for index, child in enumerate(req.children):
            yield child, f"{path}.Or[{index}]"
    elif isinstance(req, RequireGroup):
        for index, child in enumerate(req.reqs):
            yield child, f"{path}.RequireGroup.reqs[{index}]"
    elif isinstance(req, Not):
        yield req.child, f"{path}.Not"


def _preorder_with_paths(req: Requirement) -> Iterator[tuple[Requirement, int, str]]:
    stack: list[tuple[Requirement, int, str]] = [(req, 0, "$")]
    while stack:
        node, depth, path = stack.pop()
        yield node, depth, path
        stack.extend(
            (child, depth + 1, child_path)
            for child, child_path in reversed(list(_child_paths(node, path)))
        )


def condition_ids(req: Requirement) -> list[str]:
    """Leaf condition ids in depth-first, left-to-right order, duplicates kept."""
    ids: list[str] = []
    stack: list[Requirement] = [req]
    while stack:
        node = stack.pop()
        if isinstance(node, Condition):
            ids.append(node.condition_id)
        else:
            stack.extend(reversed(_children(node)))
    return ids


def requirement_depth(req: Requirement) -> int:
    """Depth of the deepest node, the root being 0 (a lone Condition has depth 0)."""
    deepest = 0
    stack: list[tuple[Requirement, int]] = [(req, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in _children(node))
    return deepest


def validate_requirement(req: Requirement, max_depth: int = MAX_EVAL_DEPTH) -> None:
    """Reject trees that cannot evaluate as written.

    Checks, in this order: depth over `max_depth` (such a tree always evaluates
    Unknown); a RequireGroup whose `min` is outside 0..255; one whose `min`
    exceeds its members (it can never be satisfied); one with `min` 0 and
    members (always satisfied, its members are dead weight). The reference
    skips these at define time; Decision Gate for Python rejects them.
    """
    depth = requirement_depth(req)
    if depth > max_depth:
        first_too_deep = next(
            path for _, node_depth, path in _preorder_with_paths(req) if node_depth > max_depth
        )
        raise InvalidInput(
            f"requirement tree too deep: {depth} levels (max {max_depth})", path=first_too_deep
        )
    for node, _, path in _preorder_with_paths(req):
        if not isinstance(node, RequireGroup):
            continue
        total = len(node.reqs)
        if not 0 <= node.min <= MAX_GROUP_MIN:
            raise InvalidInput(
                f"invalid group requirement: min {node.min} is outside 0..{MAX_GROUP_MIN}",
                path=path,
            )
        if node.min > total:
            raise InvalidInput(
                f"invalid group requirement: min {node.min} exceeds total {total}, "
                "so it can never be satisfied",
                path=path,
            )
        if node.min == 0 and total:
            raise InvalidInput(
                "invalid requirement structure: RequireGroup with min=0 is always "
                "satisfied; leave it empty or use And instead",
                path=path,
            )


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------


class _TooDeep(Exception):
    """Raised inside a compiled tree at the first node beyond MAX_EVAL_DEPTH."""


_Node: TypeAlias = Callable[[LeafStatus, Trace], TriState]
# A compiled child: a leaf is kept as its condition id (read inline by its
# parent, saving a call per leaf, the hot path); any other node is a closure.
_Child: TypeAlias = str | _Node
CompiledRequirement: TypeAlias = Callable[[LeafStatus], tuple[TriState, Trace]]

_TRUE = TriState.TRUE
_FALSE = TriState.FALSE
_UNKNOWN = TriState.UNKNOWN


def compile_requirement(
    req: Requirement, mode: LogicMode = LogicMode.KLEENE
) -> CompiledRequirement:
    """Turn a tree into one closure per inner node, built once and evaluated many times.

    The result maps a leaf-status function to `(status, trace)` with exactly
    the semantics of `evaluate_requirement`. Nodes beyond `MAX_EVAL_DEPTH`
    are never compiled: the closure standing in for them raises, which turns
    the whole evaluation Unknown.
    """
    root = _compile(req, 0, mode)

    def evaluate(leaf_status: LeafStatus) -> tuple[TriState, Trace]:
        trace: Trace = []
        try:
            if isinstance(root, str):
                status = leaf_status(root)
                trace.append((root, status))
                return status, trace
            return root(leaf_status, trace), trace
        except _TooDeep:
            return _UNKNOWN, trace

    return evaluate


_COMPILED_CACHE_SIZE = 1024
# One memo per logic mode, keyed by the tree's identity: hashing a LogicMode
# (or a tree) runs Python code, an id does not. Each entry keeps its tree
# alive, so an id cannot be reused while it is cached.
_compiled_kleene: dict[int, tuple[Requirement, CompiledRequirement]] = {}
_compiled_bochvar: dict[int, tuple[Requirement, CompiledRequirement]] = {}


def evaluate_requirement(
    req: Requirement, leaf_status: LeafStatus, mode: LogicMode = LogicMode.KLEENE
) -> tuple[TriState, Trace]:
    """Tri-state status of `req` and the trace of every leaf it read (§2.3).

    Compiled trees are memoised by object identity, so evaluating the same
    tree again costs one dictionary lookup however large or deep it is.
    """
    memo = _compiled_kleene if mode is LogicMode.KLEENE else _compiled_bochvar
    entry = memo.get(id(req))
    if entry is None or entry[0] is not req:
        if len(memo) >= _COMPILED_CACHE_SIZE:
            memo.pop(next(iter(memo)), None)
        entry = (req, compile_requirement(req, mode))
        memo[id(req)] = entry
    return entry[1](leaf_status)


def _too_deep(leaf_status: LeafStatus, trace: Trace) -> TriState:
    raise _TooDeep


def _compile(req: Requirement, depth: int, mode: LogicMode) -> _Child:
    if depth > MAX_EVAL_DEPTH:
        return _too_deep
    if isinstance(req, Condition):
        return req.condition_id
    if isinstance(req, Not):
        return _compile_not(_compile(req.child, depth + 1, mode))
    if isinstance(req, RequireGroup):
        members = tuple(_compile(member, depth + 1, mode) for member in req.reqs)
        return _compile_group(req.min, members)
    children = tuple(_compile(child, depth + 1, mode) for child in req.children)
    kleene = mode is LogicMode.KLEENE
    if isinstance(req, And):
        return _compile_and_kleene(children) if kleene else _compile_and_bochvar(children)
    return _compile_or_kleene(children) if kleene else _compile_or_bochvar(children)


# The closures below repeat the inline leaf read on purpose: it is the
# innermost loop of every gate evaluation.


def _compile_not(child: _Child) -> _Node:
    def negation(leaf_status: LeafStatus, trace: Trace) -> TriState:
        if isinstance(child, str):
            status = leaf_status(child)
            trace.append((child, status))
        else:
            status = child(leaf_status, trace)
        if status is _TRUE:
            return _FALSE
        if status is _FALSE:
            return _TRUE
        return _UNKNOWN

    return negation


def _compile_and_kleene(children: tuple[_Child, ...]) -> _Node:
    def conjunction(leaf_status: LeafStatus, trace: Trace) -> TriState:
        result = _TRUE
        for child in children:
            if isinstance(child, str):
                status = leaf_status(child)
                trace.append((child, status))
            else:
                status = child(leaf_status, trace)
            if status is _FALSE:
                result = _FALSE
            elif status is _UNKNOWN and result is _TRUE:
                result = _UNKNOWN
        return result

    return conjunction


def _compile_or_kleene(children: tuple[_Child, ...]) -> _Node:
    def disjunction(leaf_status: LeafStatus, trace: Trace) -> TriState:
        result = _FALSE
        for child in children:
            if isinstance(child, str):
                status = leaf_status(child)
                trace.append((child, status))
            else:
                status = child(leaf_status, trace)
            if status is _TRUE:
                result = _TRUE
            elif status is _UNKNOWN and result is _FALSE:
                result = _UNKNOWN
        return result

    return disjunction


def _compile_and_bochvar(children: tuple[_Child, ...]) -> _Node:
    def conjunction(leaf_status: LeafStatus, trace: Trace) -> TriState:
        result = _TRUE
        for child in children:
            if isinstance(child, str):
                status = leaf_status(child)
                trace.append((child, status))
            else:
                status = child(leaf_status, trace)
            if status is _UNKNOWN:
                result = _UNKNOWN
            elif status is _FALSE and result is _TRUE:
                result = _FALSE
        return result

    return conjunction


def _compile_or_bochvar(children: tuple[_Child, ...]) -> _Node:
    def disjunction(leaf_status: LeafStatus, trace: Trace) -> TriState:
        result = _FALSE
        for child in children:
            if isinstance(child, str):
                status = leaf_status(child)
                trace.append((child, status))
            else:
                status = child(leaf_status, trace)
            if status is _UNKNOWN:
                result = _UNKNOWN
            elif status is _TRUE and result is _FALSE:
                result = _TRUE
        return result

    return disjunction


def _compile_group(minimum: int, members: tuple[_Child, ...]) -> _Node:
    def group(leaf_status: LeafStatus, trace: Trace) -> TriState:
        satisfied = unknown = 0
        for member in members:
            if isinstance(member, str):
                status = leaf_status(member)
                trace.append((member, status))
            else:
                status = member(leaf_status, trace)
            if status is _TRUE:
                satisfied += 1
            elif status is _UNKNOWN:
                unknown += 1
        return require_group(minimum, satisfied, unknown)

    return group
