"""The server's own limits (server.md §3.11): concurrent requests and request rate.

`InflightLimit` is non-blocking: a request that finds every permit taken is
refused at once (503), never queued, so an overloaded server sheds load
instead of piling up work. `RateLimiter` is a fixed window per key (bearer
token fingerprint, mTLS subject, peer IP or transport, in that order of
preference); its table of keys is bounded: when full, idle keys are evicted,
and if that is not enough the request is refused as overload rather than
letting the table grow without limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from decision_gate.config.model import RateLimitConfig
from decision_gate.server.auth import Caller, bearer_token, token_fingerprint
from decision_gate.server.errors import Overloaded, RateLimited

IDLE_WINDOWS_BEFORE_EVICTION: Final = 2


class InflightLimit:
    def __init__(self, permits: int) -> None:
        self.permits = permits
        self._in_use = 0

    def acquire(self) -> None:
        """Take a permit or raise `Overloaded`; the caller must `release` it."""
        if self._in_use >= self.permits:
            raise Overloaded("server overloaded")
        self._in_use += 1

    def release(self) -> None:
        self._in_use -= 1


def rate_limit_key(caller: Caller) -> str:
    token = bearer_token(caller.authorization)
    if token is not None:
        return f"bearer:{token_fingerprint(token)}"
    if caller.client_subject:
        return f"mtls:{caller.client_subject}"
    if caller.peer_ip:
        return f"ip:{caller.peer_ip}"
    return f"transport:{caller.transport}"


class RateLimiter:
    def __init__(
        self, config: RateLimitConfig, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        self._clock = clock
        self._buckets: dict[str, tuple[int, int]] = {}

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def check(self, caller: Caller) -> None:
        """Count one request for the caller's key, or raise `RateLimited`/`Overloaded`."""
        key = rate_limit_key(caller)
        now = self._now_ms()
        window = self.config.window_ms
        bucket = self._buckets.get(key)
        if bucket is None and len(self._buckets) >= self.config.max_entries:
            self._evict(now)
            if len(self._buckets) >= self.config.max_entries:
                raise Overloaded("rate limiter overloaded")
        start, count = bucket if bucket is not None else (now, 0)
        if now - start >= window:
            start, count = now, 0
        if count >= self.config.max_requests:
            raise RateLimited(retry_after_ms=max(1, window - (now - start)))
        self._buckets[key] = (start, count + 1)

    def _evict(self, now: int) -> None:
        idle = IDLE_WINDOWS_BEFORE_EVICTION * self.config.window_ms
        for key in [k for k, (start, _) in self._buckets.items() if now - start > idle]:
            del self._buckets[key]
