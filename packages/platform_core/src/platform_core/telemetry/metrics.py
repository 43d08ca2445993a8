"""RED metrics per operation, with label values bounded by construction.

Every label is a `BoundedLabel`: its values are an allowlist (or an Enum) fixed
when the catalogue is built, and anything else is recorded as "other". The
number of series is therefore known up front — (operations + 1) x (error
kinds + 1) at most — whatever callers pass, and a request id or tenant id that
leaks into a label call costs nothing. Metrics register on the caller's
`CollectorRegistry`, never the process-global one, so two services (or two
tests) in one process never collide.
"""

from __future__ import annotations

import enum
import math
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import attrs
from prometheus_client import CollectorRegistry, Counter, Histogram

from platform_core.errors import InvalidInput

__all__ = [
    "DEFAULT_BUCKETS",
    "DEFAULT_ERROR_KINDS",
    "OTHER",
    "BoundedLabel",
    "MetricSpec",
    "RedMetrics",
]

OTHER = "other"
DEFAULT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DEFAULT_ERROR_KINDS = (
    "invalid_input", "not_found", "conflict", "unauthenticated", "unauthorized",
    "storage_error", "integrity_error", "timeout_error",
)
_METRIC_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_LABEL_VALUE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@attrs.frozen
class BoundedLabel:
    """A label whose values come from a fixed allowlist; the rest read "other"."""

    name: str
    allowed: frozenset[str]

    @classmethod
    def of(cls, name: str, values: Iterable[str] | type[enum.Enum]) -> BoundedLabel:
        if isinstance(values, type) and issubclass(values, enum.Enum):
            raw = [str(member.value) for member in values]
        else:
            raw = list(values)
        if not _METRIC_NAME.fullmatch(name) or name.startswith("__"):
            raise InvalidInput(f"metric label {name!r}: not a Prometheus label name")
        for value in raw:
            if not isinstance(value, str) or not _LABEL_VALUE.fullmatch(value):
                raise InvalidInput(
                    f"metric label {name!r}: allowlisted value {value!r} must be 1..64 of"
                    " lower-case letters, digits, '_', '.', '-'"
                )
        if not raw:
            raise InvalidInput(f"metric label {name!r}: needs at least one allowed value")
        return cls(name, frozenset(raw) | {OTHER})

    def value_for(self, raw: object) -> str:
        if isinstance(raw, enum.Enum):
            raw = raw.value
        return raw if isinstance(raw, str) and raw in self.allowed else OTHER


@attrs.frozen
class MetricSpec:
    """One entry of the catalogue: what is exported, and with which labels."""

    name: str
    kind: str
    help: str
    labels: tuple[str, ...]


class RedMetrics:
    """Requests, errors and duration for a fixed set of operations."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        namespace: str,
        operations: Iterable[str] | type[enum.Enum],
        error_kinds: Iterable[str] | type[enum.Enum] = DEFAULT_ERROR_KINDS,
        buckets: tuple[float, ...] = DEFAULT_BUCKETS,
    ) -> None:
        if not _METRIC_NAME.fullmatch(namespace):
            raise InvalidInput(f"metric namespace {namespace!r}: not a Prometheus name")
        self.operation = BoundedLabel.of("operation", operations)
        self.error_kind = BoundedLabel.of("error", error_kinds)
        self.catalogue = (
            MetricSpec(f"{namespace}_requests_total", "counter",
                       "Operations started.", ("operation",)),
            MetricSpec(f"{namespace}_errors_total", "counter",
                       "Operations that failed, by error kind.", ("operation", "error")),
            MetricSpec(f"{namespace}_request_duration_seconds", "histogram",
                       "Operation duration in seconds.", ("operation",)),
        )
        requests, errors, duration = self.catalogue
        self._requests = Counter(
            requests.name.removesuffix("_total"), requests.help, requests.labels,
            registry=registry,
        )
        self._errors = Counter(
            errors.name.removesuffix("_total"), errors.help, errors.labels, registry=registry
        )
        self._duration = Histogram(
            duration.name, duration.help, duration.labels, registry=registry, buckets=buckets
        )
        for operation in self.operation.allowed:
            self._requests.labels(operation)
            self._duration.labels(operation)
            for kind in self.error_kind.allowed:
                self._errors.labels(operation, kind)

    def observe(self, operation: object, seconds: float, error: object | None = None) -> None:
        """Record one finished operation; `error` is its error kind, if it failed.

        A negative duration (a clock stepped back) counts as zero; a NaN or
        infinite one is a caller bug and is refused.
        """
        if not math.isfinite(seconds):
            raise InvalidInput("an operation duration must be a finite number of seconds")
        name = self.operation.value_for(operation)
        self._requests.labels(name).inc()
        self._duration.labels(name).observe(max(seconds, 0.0))
        if error is not None:
            self._errors.labels(name, self.error_kind.value_for(error)).inc()

    @contextmanager
    def track(self, operation: object) -> Iterator[None]:
        """Time the block; an exception counts as an error and propagates.

        The error kind is the exception class name in snake case, bounded by
        the error allowlist like any other label value.
        """
        started = time.perf_counter()
        try:
            yield
        except BaseException as error:
            self.observe(operation, time.perf_counter() - started, _kind_of(error))
            raise
        self.observe(operation, time.perf_counter() - started)


def _kind_of(error: BaseException) -> str:
    name = type(error).__name__
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
