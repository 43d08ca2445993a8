"""Gate evaluation throughput: Decision Gate's core against JsonLogic and a plain lambda.

The same three gates (5, 50 and 500 conditions; a seeded mix of And, Or, Not
and RequireGroup over `equals`, `greater_than`, `in_set` and `contains`
conditions) are evaluated over the same seeded evidence documents (20,000 by
default; each gives one JSON value per condition) by:

* ours: `evaluate_requirement` with each leaf's status from
  `evaluate_comparator`, exactly the engine's path (full trace, no
  short-circuit, tri-state);
* JsonLogic (`panzi-json-logic`): the gate as a JsonLogic rule, RequireGroup
  as a sum of `if` terms compared with `>=`;
* the floor: the gate as one Python lambda expression over the document,
  compiled from the tree the way a person would write it by hand
  (short-circuiting `and`/`or`, native `==`, `>`, `in`).

Every document gives evidence of the right type for its condition, so no
status is Unknown and all three must agree on every document; that is
asserted before anything is timed. The engine holds evidence as
`EvidenceValue` objects and JsonLogic reads a plain dict, so each evaluator
gets the document in its own natural form, built outside the timed loop.
Results are evaluations per second; `ratio` is ours / baseline.
"""

from __future__ import annotations

import gc
import itertools
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar

import attrs
from json_logic import jsonLogic

from decision_gate.core.comparators import Comparator, evaluate_comparator
from decision_gate.core.evidence import EvidenceValue, JsonEvidence
from decision_gate.core.jsonvalue import JsonValue
from decision_gate.core.requirement import (
    MAX_EVAL_DEPTH,
    And,
    Condition,
    Not,
    Or,
    RequireGroup,
    Requirement,
    evaluate_requirement,
    requirement_depth,
)
from decision_gate.core.tristate import TriState

SIZES = (5, 50, 500)
DOCUMENTS = 20_000
CHUNK = 1_000
SEED = 20_260_101

_LABELS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta")
_BUILDS = ("release-build", "release-candidate", "nightly-build", "hotfix")
_NEEDLES = ("release", "build")

Document = dict[str, JsonValue]
Item = TypeVar("Item")


@attrs.frozen
class ConditionCase:
    condition_id: str
    comparator: Comparator
    expected: JsonValue
    draw_evidence: Callable[[random.Random], JsonValue]


@attrs.frozen
class Gate:
    requirement: Requirement
    conditions: dict[str, ConditionCase]
    jsonlogic_rule: JsonValue
    floor: Callable[[Document], bool]


# --- Generation -----------------------------------------------------------------


def _condition(rng: random.Random, condition_id: str) -> ConditionCase:
    """A condition that holds for about half of the documents."""
    comparator = rng.choice(
        (Comparator.EQUALS, Comparator.GREATER_THAN, Comparator.IN_SET, Comparator.CONTAINS)
    )
    if comparator is Comparator.EQUALS:
        return ConditionCase(condition_id, comparator, rng.randrange(2), lambda r: r.randrange(2))
    if comparator is Comparator.GREATER_THAN:
        return ConditionCase(
            condition_id, comparator, rng.randrange(40, 60), lambda r: r.randrange(100)
        )
    if comparator is Comparator.IN_SET:
        members: list[JsonValue] = list(rng.sample(_LABELS, 3))
        return ConditionCase(condition_id, comparator, members, lambda r: r.choice(_LABELS))
    return ConditionCase(
        condition_id, comparator, rng.choice(_NEEDLES), lambda r: r.choice(_BUILDS)
    )


def _tree(rng: random.Random, leaves: Sequence[Requirement]) -> Requirement:
    """Split the leaves among And/Or pairs and triples and majority RequireGroups.

    Majority groups and the mix of And and Or keep each gate's outcome away
    from always-True or always-False, so no evaluator wins by short-circuiting.
    """
    if len(leaves) == 1:
        node = leaves[0]
    else:
        kind = rng.choice(("and", "or", "group", "group"))
        widest = 3 if kind != "group" else 6
        arity = rng.randint(2, min(widest, len(leaves)))
        cuts = sorted(rng.sample(range(1, len(leaves)), arity - 1))
        bounds = [0, *cuts, len(leaves)]
        children = tuple(_tree(rng, leaves[start:end]) for start, end in itertools.pairwise(bounds))
        if kind == "and":
            node = And(children)
        elif kind == "or":
            node = Or(children)
        else:
            node = RequireGroup(len(children) // 2 + rng.randint(0, 1), children)
    return Not(node) if rng.random() < 0.15 else node


def _jsonlogic(node: Requirement, conditions: dict[str, ConditionCase]) -> JsonValue:
    if isinstance(node, Condition):
        case = conditions[node.condition_id]
        var: JsonValue = {"var": case.condition_id}
        if case.comparator is Comparator.EQUALS:
            return {"==": [var, case.expected]}
        if case.comparator is Comparator.GREATER_THAN:
            return {">": [var, case.expected]}
        if case.comparator is Comparator.IN_SET:
            return {"in": [var, case.expected]}
        return {"in": [case.expected, var]}
    if isinstance(node, Not):
        return {"!": [_jsonlogic(node.child, conditions)]}
    if isinstance(node, And):
        return {"and": [_jsonlogic(child, conditions) for child in node.children]}
    if isinstance(node, Or):
        return {"or": [_jsonlogic(child, conditions) for child in node.children]}
    terms: list[JsonValue] = [
        {"if": [_jsonlogic(member, conditions), 1, 0]} for member in node.reqs
    ]
    return {">=": [{"+": terms}, node.min]}


def _python_expression(node: Requirement, conditions: dict[str, ConditionCase]) -> str:
    if isinstance(node, Condition):
        case = conditions[node.condition_id]
        value = f"d[{case.condition_id!r}]"
        if case.comparator is Comparator.EQUALS:
            return f"({value} == {case.expected!r})"
        if case.comparator is Comparator.GREATER_THAN:
            return f"({value} > {case.expected!r})"
        if case.comparator is Comparator.IN_SET:
            assert isinstance(case.expected, list)
            return f"({value} in {set(case.expected)!r})"
        return f"({case.expected!r} in {value})"
    if isinstance(node, Not):
        return f"(not {_python_expression(node.child, conditions)})"
    if isinstance(node, And | Or):
        joiner = " and " if isinstance(node, And) else " or "
        return "(" + joiner.join(_python_expression(c, conditions) for c in node.children) + ")"
    terms = " + ".join(_python_expression(member, conditions) for member in node.reqs)
    return f"(({terms}) >= {node.min})"


def build_gate(size: int, seed: int = SEED) -> Gate:
    rng = random.Random(seed * 1_000 + size)
    conditions = {f"c{i:03d}": _condition(rng, f"c{i:03d}") for i in range(size)}
    requirement = _tree(rng, [Condition(condition_id) for condition_id in conditions])
    assert requirement_depth(requirement) <= MAX_EVAL_DEPTH
    source = "lambda d: " + _python_expression(requirement, conditions)
    # The source is built above from generated ids and literals only.
    floor = eval(compile(source, f"<gate {size}>", "eval"))  # noqa: S307
    return Gate(requirement, conditions, _jsonlogic(requirement, conditions), floor)


def documents(gate: Gate, count: int, seed: int = SEED) -> Iterator[list[Document]]:
    """Seeded evidence documents in chunks, so a 500-condition run stays small in memory."""
    rng = random.Random(seed + len(gate.conditions))
    cases = list(gate.conditions.values())
    produced = 0
    while produced < count:
        size = min(CHUNK, count - produced)
        yield [{case.condition_id: case.draw_evidence(rng) for case in cases} for _ in range(size)]
        produced += size


# --- The three evaluators ---------------------------------------------------------


def core_evaluator(gate: Gate) -> Callable[[Mapping[str, EvidenceValue]], TriState]:
    specs = {
        case.condition_id: (case.comparator, case.expected) for case in gate.conditions.values()
    }
    requirement = gate.requirement

    def evaluate(evidence: Mapping[str, EvidenceValue]) -> TriState:
        def leaf_status(condition_id: str) -> TriState:
            comparator, expected = specs[condition_id]
            return evaluate_comparator(comparator, expected, evidence.get(condition_id))

        status, _trace = evaluate_requirement(requirement, leaf_status)
        return status

    return evaluate


def jsonlogic_evaluator(gate: Gate) -> Callable[[Document], bool]:
    rule = gate.jsonlogic_rule
    return lambda document: bool(jsonLogic(rule, document))


def _timed(evaluate: Callable[[Item], object], inputs: Sequence[Item]) -> float:
    gc.collect()
    start = time.perf_counter()
    for item in inputs:
        evaluate(item)
    return time.perf_counter() - start


def measure(size: int, count: int = DOCUMENTS) -> dict[str, float]:
    """Evaluations per second of the three evaluators on one gate size."""
    gate = build_gate(size)
    ours = core_evaluator(gate)
    jsonlogic = jsonlogic_evaluator(gate)
    floor = gate.floor
    elapsed = {"ours": 0.0, "jsonlogic": 0.0, "lambda": 0.0}
    outcomes = {True: 0, False: 0}
    for chunk in documents(gate, count):
        evidence = [
            {condition_id: JsonEvidence(value) for condition_id, value in document.items()}
            for document in chunk
        ]
        for document, held in zip(chunk, evidence, strict=True):
            status = ours(held)
            expected = floor(document)
            assert status is (TriState.TRUE if expected else TriState.FALSE), (size, document)
            assert jsonlogic(document) is expected, (size, document)
            outcomes[expected] += 1
        elapsed["ours"] += _timed(ours, evidence)
        elapsed["jsonlogic"] += _timed(jsonlogic, chunk)
        elapsed["lambda"] += _timed(floor, chunk)
    rates = {name: count / seconds for name, seconds in elapsed.items()}
    rates["true_share"] = outcomes[True] / count
    return rates


def run(count: int = DOCUMENTS) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for size in SIZES:
        rates = measure(size, count)
        for baseline in ("jsonlogic", "lambda"):
            rows.append(
                {
                    "name": f"gate evaluations/s, {size} conditions, core vs {baseline}",
                    "ours": round(rates["ours"], 1),
                    "baseline": round(rates[baseline], 1),
                    "ratio": round(rates["ours"] / rates[baseline], 3),
                }
            )
    return rows


def main() -> None:
    rows = run()
    width = max(len(str(row["name"])) for row in rows)
    print(f"{'benchmark':<{width}}  {'ours':>12}  {'baseline':>12}  {'ratio':>7}")
    for row in rows:
        print(
            f"{row['name']!s:<{width}}  {row['ours']:>12,.1f}  {row['baseline']:>12,.1f}"
            f"  {row['ratio']:>7.3f}"
        )


if __name__ == "__main__":
    main()
