"""The `static` dispatch policy: ordered rules decide which targets may receive a packet.

server.md §3.15. `[policy.static]` has a `default` (`permit` or `deny`,
default `deny`) and ordered `rules`; the first rule whose every non-empty
selector matches the target and the packet envelope decides with its
`effect`: `permit`, `deny`, or `error`, which fails the disclosure with the
rule's `error_message` (the run fails, as for any policy error). A rule
without any selector is refused at start-up, so no rule matches everything
by accident. Selectors: `target_kinds`; `targets` (`target_kind` plus
`target_id`, or `system`/`target` for external targets); labels and policy
tags required or forbidden on the packet's visibility; and allowed
`content_types`, `schema_ids`, `packet_ids`, `stage_ids`, `scenario_ids`.
Deterministic and synchronous: it only reads its arguments.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from decision_gate.core.engine import PolicyFailure
from decision_gate.core.errors import InvalidInput
from decision_gate.core.model import (
    AgentTarget,
    ChannelTarget,
    DispatchTarget,
    ExternalTarget,
    PacketEnvelope,
    PacketPayload,
    SessionTarget,
)

__all__ = ["PolicyEffect", "StaticDispatchPolicy", "StaticRule", "TargetSelector"]


class PolicyEffect(enum.StrEnum):
    PERMIT = "permit"
    DENY = "deny"
    ERROR = "error"


_KINDS: Final[Mapping[str, type]] = {
    "agent": AgentTarget,
    "session": SessionTarget,
    "external": ExternalTarget,
    "channel": ChannelTarget,
}
_LIST_SELECTORS: Final = (
    "require_labels",
    "forbid_labels",
    "require_policy_tags",
    "forbid_policy_tags",
    "content_types",
    "schema_ids",
    "packet_ids",
    "stage_ids",
    "scenario_ids",
)


def _target_id(target: DispatchTarget) -> str | None:
    if isinstance(target, AgentTarget):
        return target.agent_id
    if isinstance(target, SessionTarget):
        return target.session_id
    if isinstance(target, ChannelTarget):
        return target.channel
    return None


@attrs.frozen
class TargetSelector:
    target_kind: str
    target_id: str | None = None
    system: str | None = None
    target: str | None = None

    def matches(self, target: DispatchTarget) -> bool:
        if not isinstance(target, _KINDS[self.target_kind]):
            return False
        if isinstance(target, ExternalTarget):
            return (self.system is None or self.system == target.system) and (
                self.target is None or self.target == target.target
            )
        return self.target_id is None or self.target_id == _target_id(target)


@attrs.frozen
class StaticRule:
    effect: PolicyEffect
    error_message: str | None = None
    target_kinds: tuple[str, ...] = ()
    targets: tuple[TargetSelector, ...] = ()
    require_labels: tuple[str, ...] = ()
    forbid_labels: tuple[str, ...] = ()
    require_policy_tags: tuple[str, ...] = ()
    forbid_policy_tags: tuple[str, ...] = ()
    content_types: tuple[str, ...] = ()
    schema_ids: tuple[str, ...] = ()
    packet_ids: tuple[str, ...] = ()
    stage_ids: tuple[str, ...] = ()
    scenario_ids: tuple[str, ...] = ()

    def matches(self, target: DispatchTarget, envelope: PacketEnvelope) -> bool:
        labels = set(envelope.visibility.labels)
        tags = set(envelope.visibility.policy_tags)
        allowed = (
            (self.content_types, envelope.content_type),
            (self.schema_ids, envelope.schema_id),
            (self.packet_ids, envelope.packet_id),
            (self.stage_ids, envelope.stage_id),
            (self.scenario_ids, envelope.scenario_id),
        )
        return (
            (not self.target_kinds or any(isinstance(target, _KINDS[k]) for k in self.target_kinds))
            and (not self.targets or any(s.matches(target) for s in self.targets))
            and set(self.require_labels) <= labels
            and not set(self.forbid_labels) & labels
            and set(self.require_policy_tags) <= tags
            and not set(self.forbid_policy_tags) & tags
            and all(not values or value in values for values, value in allowed)
        )


@attrs.frozen
class StaticDispatchPolicy:
    default: PolicyEffect = PolicyEffect.DENY
    rules: tuple[StaticRule, ...] = ()

    def authorize(
        self, target: DispatchTarget, envelope: PacketEnvelope, payload: PacketPayload
    ) -> bool:
        effect, message = self.default, None
        for rule in self.rules:
            if rule.matches(target, envelope):
                effect, message = rule.effect, rule.error_message
                break
        if effect is PolicyEffect.ERROR:
            raise PolicyFailure(message or "policy rule error")
        return effect is PolicyEffect.PERMIT

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> StaticDispatchPolicy:
        """Parse `[policy.static]`; any problem is an `InvalidInput` naming its path."""
        _only_keys(config, {"default", "rules"}, "policy.static")
        default = _effect(config.get("default", "deny"), "policy.static.default")
        if default is PolicyEffect.ERROR:
            raise InvalidInput("static policy default must be permit or deny")
        rules = config.get("rules", [])
        if not isinstance(rules, Sequence) or isinstance(rules, str):
            raise InvalidInput("policy.static.rules must be an array of tables")
        return cls(
            default=default,
            rules=tuple(_rule(rule, f"policy.rules[{i}]") for i, rule in enumerate(rules)),
        )


def _only_keys(table: object, allowed: set[str], path: str) -> None:
    if not isinstance(table, Mapping):
        raise InvalidInput(f"{path} must be a table")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise InvalidInput(f"{path}: unknown key {unknown[0]}")


def _effect(value: object, path: str) -> PolicyEffect:
    if value not in {e.value for e in PolicyEffect}:
        raise InvalidInput(f"{path} must be permit, deny or error")
    return PolicyEffect(value)


def _strings(table: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    values = table.get(key, [])
    if not isinstance(values, Sequence) or isinstance(values, str):
        raise InvalidInput(f"{path}.{key} must be an array of strings")
    if not all(isinstance(v, str) for v in values):
        raise InvalidInput(f"{path}.{key} must be an array of strings")
    return tuple(values)


def _kind(value: object, path: str) -> str:
    if value not in _KINDS:
        raise InvalidInput(f"{path} must be one of agent, session, external, channel")
    return str(value)


def _selector(table: object, path: str) -> TargetSelector:
    _only_keys(table, {"target_kind", "target_id", "system", "target"}, path)
    assert isinstance(table, Mapping)
    kind = _kind(table.get("target_kind"), f"{path}.target_kind")
    optional = {}
    for key in ("target_id", "system", "target"):
        value = table.get(key)
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"{path}.{key} must be a string")
        optional[key] = value
    if kind == "external":
        if optional["target_id"] is not None:
            raise InvalidInput(f"{path}: external target must not set target_id")
        if optional["system"] is None and optional["target"] is None:
            raise InvalidInput(f"{path}: external target requires system or target")
    elif optional["system"] is not None or optional["target"] is not None:
        raise InvalidInput(f"{path}: non-external targets must not set system/target")
    return TargetSelector(kind, **optional)


def _rule(table: object, path: str) -> StaticRule:
    keys = {"effect", "error_message", "target_kinds", "targets", *_LIST_SELECTORS}
    _only_keys(table, keys, path)
    assert isinstance(table, Mapping)
    effect = _effect(table.get("effect"), f"{path}.effect")
    message = table.get("error_message")
    if message is not None and not isinstance(message, str):
        raise InvalidInput(f"{path}.error_message must be a string")
    if effect is PolicyEffect.ERROR and not message:
        raise InvalidInput(f"{path}: error effect requires error_message")
    kinds = tuple(_kind(k, f"{path}.target_kinds") for k in _strings(table, "target_kinds", path))
    targets_value = table.get("targets", [])
    if not isinstance(targets_value, Sequence) or isinstance(targets_value, str):
        raise InvalidInput(f"{path}.targets must be an array of tables")
    targets = tuple(_selector(t, f"{path}.targets[{i}]") for i, t in enumerate(targets_value))
    lists = {key: _strings(table, key, path) for key in _LIST_SELECTORS}
    if not kinds and not targets and not any(lists.values()):
        raise InvalidInput(f"{path}: rule must include at least one match criterion")
    return StaticRule(
        effect=effect, error_message=message, target_kinds=kinds, targets=targets, **lists
    )
