"""The conformance kit: one reusable contract suite per seam, and a pytest plugin.

Installed with decision-gate as the `pytest11` entry point `decision_gate`, so
its fixtures are available in any pytest session; it adds no test and no
autouse fixture of its own. Each suite is a module of plain async test
functions that an integrator activates by star-importing it into one of their
test modules next to the fixture it names:

| suite | fixture you provide |
|---|---|
| `decision_gate.testing.run_state_store` | `run_state_store`: a fresh store |
| `decision_gate.testing.schema_registry` | `schema_registry_factory(max_bytes, max_entries)` |
| `decision_gate.testing.runpack_storage` | `runpack_storage`: over an empty location |
| `decision_gate.testing.tenant_authorizer` | `tenant_authorizer` |
| `decision_gate.testing.usage_meter` | `usage_meter` |
| `decision_gate.testing.usage_meter_quota` | `usage_meter_with_limit(metric, units)` |
| `decision_gate.testing.audit_sink` | `audit_sink` and `read_audit_events()` |
| `decision_gate.testing.tampering` | the store fixtures above and `tamper` |
| `decision_gate.testing.namespace_authority` | `namespace_authority` |
| `decision_gate.testing.evidence_provider` | `evidence_provider`, `evidence_queries` |
| `decision_gate.testing.dispatch` | `policy_decider` and/or `dispatcher` |

`build_implementation(seam, section)` builds an implementation the way the
server does (entry-point discovery, selection by name, Protocol check), so a
fixture can test the installed plugin rather than a hand-made object.
The suites need pytest-asyncio with `asyncio_mode = "auto"` (and hypothesis
for the run-state suite).
"""

from __future__ import annotations

from decision_gate.plugins import build_implementation

__all__ = ["build_implementation"]
