"""The built-in allow-all authorizer and no-op meter, built through the hooks, pass the kit."""

from __future__ import annotations

import pytest

from decision_gate.seams.tenant_authorizer import TenantAuthorizer
from decision_gate.seams.usage_meter import UsageMeter
from decision_gate.testing import build_implementation
from decision_gate.testing.tenant_authorizer import *  # noqa: F403
from decision_gate.testing.usage_meter import *  # noqa: F403


@pytest.fixture
async def tenant_authorizer() -> TenantAuthorizer:
    authorizer: TenantAuthorizer = await build_implementation(
        "tenant_authorizer", {"type": "allow_all"}
    )
    return authorizer


@pytest.fixture
async def usage_meter() -> UsageMeter:
    meter: UsageMeter = await build_implementation("usage_meter", {"type": "noop"})
    return meter
