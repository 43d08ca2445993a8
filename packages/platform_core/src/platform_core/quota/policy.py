"""Quota limits: how many units of a metric a tenant may use per period.

Limits are configuration every server process loads identically; the counters
they are checked against live in the shared store. A tenant override replaces
the default for that metric only. A metric with no limit is not unlimited:
`UsageLedger.consume` refuses it (`QuotaNotConfigured`), so a forgotten line of
configuration fails closed instead of granting everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import attrs

from platform_core.errors import InvalidInput
from platform_core.quota.metrics import UsageMetric, parse_metric
from platform_core.quota.periods import Lifetime, Period
from platform_core.tenancy.model import validate_identifier

__all__ = ["QuotaLimit", "QuotaPolicy"]

MAX_UNITS = 2**62


def _limit(_instance: object, _attribute: object, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_UNITS:
        raise InvalidInput(f"a quota limit must be an integer between 0 and {MAX_UNITS}")


@attrs.frozen
class QuotaLimit:
    """At most `limit` units per window of `period` (0 admits nothing)."""

    limit: int = attrs.field(validator=_limit)
    period: Period = attrs.field(factory=Lifetime)


def _limits(value: Mapping[UsageMetric | str, QuotaLimit]) -> Mapping[UsageMetric, QuotaLimit]:
    limits: dict[UsageMetric, QuotaLimit] = {}
    for metric, limit in value.items():
        if not isinstance(limit, QuotaLimit):
            raise InvalidInput(f"the limit of {metric} must be a QuotaLimit")
        limits[parse_metric(metric)] = limit
    return MappingProxyType(limits)


def _per_tenant(
    value: Mapping[str, Mapping[UsageMetric | str, QuotaLimit]],
) -> Mapping[str, Mapping[UsageMetric, QuotaLimit]]:
    return MappingProxyType(
        {
            validate_identifier("tenant id", tenant): _limits(limits)
            for tenant, limits in value.items()
        }
    )


@attrs.frozen
class QuotaPolicy:
    """Default limits per metric, and per-tenant overrides of some of them."""

    defaults: Mapping[UsageMetric, QuotaLimit] = attrs.field(factory=dict, converter=_limits)
    per_tenant: Mapping[str, Mapping[UsageMetric, QuotaLimit]] = attrs.field(
        factory=dict, converter=_per_tenant
    )

    def limit_for(self, tenant_id: str, metric: UsageMetric) -> QuotaLimit | None:
        override = self.per_tenant.get(tenant_id, {}).get(metric)
        return override if override is not None else self.defaults.get(metric)
