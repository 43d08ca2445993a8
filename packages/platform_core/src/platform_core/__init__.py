"""platform_core: enterprise primitives any service needs (identity, authz,
tenancy, quota, auditlog, telemetry, config). It knows nothing of Decision Gate."""

__version__ = "0.1.0"
