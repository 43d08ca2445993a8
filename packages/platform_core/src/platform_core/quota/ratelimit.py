"""Dual token-bucket rate limits: one bucket per tenant and one per token (credential).

Envoy's semantics: a bucket starts full at `capacity`, refills continuously at
`refill_per_second`, never holds more than `capacity`. A request is admitted
only if *both* its tenant's and its token's bucket hold `cost`, and then both
pay; otherwise neither pays and the answer says which limit bit and after how
many seconds the request would fit (`retry_after`, for a 429 `Retry-After`).

State is process-local, like the reference server's limiter: each server
process enforces its share. The number of buckets is bounded; a full bucket is
dropped first (recreating it full loses nothing), and when every bucket is
busy a new key is refused (`SATURATED`) rather than admitted unmetered.
`token_key` should be a key id or a hash of the credential: it is kept in
memory as given, never logged.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from enum import StrEnum
from types import MappingProxyType

import attrs

from platform_core.errors import InvalidInput
from platform_core.tenancy.model import validate_identifier

__all__ = ["BucketPolicy", "RateAdmitted", "RateLimited", "RateLimiter", "RateScope"]


def _positive(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InvalidInput(f"{attribute.name} must be a finite number > 0")


@attrs.frozen
class BucketPolicy:
    """A burst of `capacity` requests, sustained at `refill_per_second`."""

    capacity: float = attrs.field(validator=_positive)
    refill_per_second: float = attrs.field(validator=_positive)


class RateScope(StrEnum):
    TENANT = "tenant"
    TOKEN = "token"  # noqa: S105 - a scope name, not a secret
    SATURATED = "saturated"


@attrs.frozen
class RateAdmitted:
    """Both buckets paid."""


@attrs.frozen
class RateLimited:
    """Refused by the `scope` limit; retrying after `retry_after` seconds would fit."""

    scope: RateScope
    retry_after: float


class _Bucket:
    __slots__ = ("policy", "tokens", "updated_at")

    def __init__(self, policy: BucketPolicy, now: float) -> None:
        self.policy = policy
        self.tokens = float(policy.capacity)
        self.updated_at = now

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated_at)
        self.tokens = min(
            float(self.policy.capacity), self.tokens + elapsed * self.policy.refill_per_second
        )
        self.updated_at = max(self.updated_at, now)

    def wait_for(self, cost: float) -> float:
        missing = cost - self.tokens
        return 0.0 if missing <= 0 else missing / self.policy.refill_per_second

    def is_full(self) -> bool:
        return self.tokens >= self.policy.capacity


class RateLimiter:
    """Per-tenant and per-token buckets; `check` admits or says how long to wait."""

    def __init__(
        self,
        *,
        per_tenant: BucketPolicy,
        per_token: BucketPolicy,
        tenant_overrides: Mapping[str, BucketPolicy] | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = 4096,
    ) -> None:
        if max_buckets < 2:
            raise InvalidInput("max_buckets must be at least 2 (one tenant and one token)")
        self._per_tenant = per_tenant
        self._per_token = per_token
        self._overrides = MappingProxyType(
            {validate_identifier("tenant id", k): v for k, v in (tenant_overrides or {}).items()}
        )
        self._clock = clock
        self._max_buckets = max_buckets
        self._lock = threading.Lock()
        self._buckets: dict[tuple[RateScope, str], _Bucket] = {}

    def check(
        self, tenant_id: str, token_key: str, cost: float = 1.0
    ) -> RateAdmitted | RateLimited:
        """Admit one request of `cost` for the tenant and token, or refuse it with a wait."""
        validate_identifier("tenant id", tenant_id)
        if not isinstance(token_key, str) or not token_key:
            raise InvalidInput("token_key must be a non-empty string")
        tenant_policy = self._overrides.get(tenant_id, self._per_tenant)
        if (
            not isinstance(cost, (int, float))
            or isinstance(cost, bool)
            or not (0 < cost <= min(tenant_policy.capacity, self._per_token.capacity))
        ):
            raise InvalidInput("cost must be > 0 and fit in both buckets' capacity")
        with self._lock:
            now = self._clock()
            tenant = self._bucket(RateScope.TENANT, tenant_id, tenant_policy, now)
            if isinstance(tenant, RateLimited):
                return tenant
            token = self._bucket(RateScope.TOKEN, token_key, self._per_token, now)
            if isinstance(token, RateLimited):
                return token
            tenant.refill(now)
            token.refill(now)
            tenant_wait, token_wait = tenant.wait_for(cost), token.wait_for(cost)
            if tenant_wait > 0 or token_wait > 0:
                scope = RateScope.TENANT if tenant_wait >= token_wait else RateScope.TOKEN
                return RateLimited(scope, max(tenant_wait, token_wait))
            tenant.tokens -= cost
            token.tokens -= cost
            return RateAdmitted()

    def _bucket(
        self, scope: RateScope, key: str, policy: BucketPolicy, now: float
    ) -> _Bucket | RateLimited:
        bucket = self._buckets.get((scope, key))
        if bucket is not None:
            return bucket
        if len(self._buckets) >= self._max_buckets:
            for bucket in self._buckets.values():
                bucket.refill(now)
            self._buckets = {k: b for k, b in self._buckets.items() if not b.is_full()}
            if len(self._buckets) >= self._max_buckets:
                soonest = min(b.wait_for(b.policy.capacity) for b in self._buckets.values())
                return RateLimited(RateScope.SATURATED, soonest)
        bucket = _Bucket(policy, now)
        self._buckets[(scope, key)] = bucket
        return bucket
