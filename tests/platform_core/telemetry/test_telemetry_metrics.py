"""RED metrics: one counter/histogram family per operation on the caller's
registry, and label values that can never leave their allowlist."""

from __future__ import annotations

import enum

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from platform_core.errors import InvalidInput, NotFound
from platform_core.telemetry import OTHER, BoundedLabel, RedMetrics


class Operation(enum.Enum):
    CREATE_TENANT = "create_tenant"
    READ_TENANT = "read_tenant"


def metrics(registry: CollectorRegistry) -> RedMetrics:
    return RedMetrics(registry, namespace="svc", operations=Operation)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def series_count(registry: CollectorRegistry) -> int:
    return sum(len(family.samples) for family in registry.collect())


def test_a_successful_operation_counts_a_request_and_a_duration_but_no_error() -> None:
    registry = CollectorRegistry()
    red = metrics(registry)
    red.observe(Operation.CREATE_TENANT, 0.02)
    assert sample(registry, "svc_requests_total", operation="create_tenant") == 1
    assert sample(registry, "svc_request_duration_seconds_count", operation="create_tenant") == 1
    assert sample(registry, "svc_request_duration_seconds_sum", operation="create_tenant") == 0.02
    assert sample(registry, "svc_errors_total", operation="create_tenant", error="not_found") == 0


def test_track_counts_an_exception_as_an_error_of_its_kind_and_reraises() -> None:
    registry = CollectorRegistry()
    red = metrics(registry)
    with pytest.raises(NotFound), red.track("read_tenant"):
        raise NotFound("tenant t-1")
    assert sample(registry, "svc_errors_total", operation="read_tenant", error="not_found") == 1
    assert sample(registry, "svc_requests_total", operation="read_tenant") == 1


def test_an_error_kind_outside_the_allowlist_is_recorded_as_other() -> None:
    registry = CollectorRegistry()
    red = metrics(registry)
    with pytest.raises(KeyError), red.track(Operation.READ_TENANT):
        raise KeyError("tenant-4711")
    assert sample(registry, "svc_errors_total", operation="read_tenant", error=OTHER) == 1


def test_an_unknown_operation_is_recorded_as_other_never_as_its_value() -> None:
    registry = CollectorRegistry()
    red = metrics(registry)
    red.observe("tenant/9f1c2a1e-user@example.com", 0.1)
    assert sample(registry, "svc_requests_total", operation=OTHER) == 1
    assert b"9f1c2a1e" not in generate_latest(registry)


@settings(max_examples=150, deadline=None)
@given(
    operations=st.lists(st.one_of(st.text(max_size=40), st.integers(), st.none()), max_size=30),
    errors=st.lists(st.text(max_size=40), max_size=30),
)
def test_the_number_of_series_never_grows_whatever_values_callers_pass(
    operations: list[object], errors: list[str]
) -> None:
    registry = CollectorRegistry()
    red = metrics(registry)
    before = series_count(registry)
    for operation, error in zip(operations, errors + [None] * len(operations), strict=False):
        red.observe(operation, 0.001, error)
    assert series_count(registry) == before


def test_every_allowed_series_exists_at_zero_from_the_start() -> None:
    registry = CollectorRegistry()
    metrics(registry)
    for operation in ("create_tenant", "read_tenant", OTHER):
        assert sample(registry, "svc_requests_total", operation=operation) == 0


def test_two_catalogues_on_separate_registries_do_not_collide() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    metrics(first).observe("create_tenant", 0.1)
    metrics(second)
    assert sample(second, "svc_requests_total", operation="create_tenant") == 0


def test_the_catalogue_lists_every_exported_family() -> None:
    registry = CollectorRegistry()
    red = metrics(registry)
    exported = {family.name for family in registry.collect()}
    declared = {spec.name.removesuffix("_total") for spec in red.catalogue}
    assert exported == declared
    assert all(set(spec.labels) <= {"operation", "error"} for spec in red.catalogue)


@pytest.mark.parametrize(
    "values", [[], ["Has Upper"], ["white space"], ["x" * 65], ["a\nb"], [""], ["ok\n"]]
)
def test_an_allowlist_with_unsafe_values_is_rejected(values: list[str]) -> None:
    with pytest.raises(InvalidInput):
        BoundedLabel.of("operation", values)


@pytest.mark.parametrize("namespace", ["", "9svc", "svc-name", "svc name", "svc\n"])
def test_a_namespace_that_is_not_a_prometheus_name_is_rejected(namespace: str) -> None:
    with pytest.raises(InvalidInput):
        RedMetrics(CollectorRegistry(), namespace=namespace, operations=["op"])


def test_a_label_maps_enum_members_and_strings_alike() -> None:
    label = BoundedLabel.of("operation", Operation)
    assert label.value_for(Operation.READ_TENANT) == "read_tenant"
    assert label.value_for("read_tenant") == "read_tenant"
    assert label.value_for(42) == OTHER


def test_a_negative_duration_is_clamped_to_zero() -> None:
    registry = CollectorRegistry()
    metrics(registry).observe("read_tenant", -5.0)
    assert sample(registry, "svc_request_duration_seconds_sum", operation="read_tenant") == 0


@pytest.mark.parametrize("seconds", [float("nan"), float("inf")])
def test_a_non_finite_duration_is_refused_and_records_nothing(seconds: float) -> None:
    registry = CollectorRegistry()
    red = metrics(registry)
    with pytest.raises(InvalidInput):
        red.observe("read_tenant", seconds)
    assert sample(registry, "svc_requests_total", operation="read_tenant") == 0
