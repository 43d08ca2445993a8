"""The typed view of a validated `decision-gate.toml` (contract/config.schema.json).

Field names are the TOML keys and every default is the reference's, so a
missing key and a key set to its default mean the same thing. Only the
sections the server itself acts on are typed here; the sections that choose
and configure a seam implementation (stores, registry, runpack storage,
providers' own `config` tables) stay the validated JSON objects the plugin
factories receive, because their shape belongs to the implementation.
Values are frozen: a loaded config never changes while a server runs.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs


class Transport(enum.Enum):
    STDIO = "stdio"
    HTTP = "http"
    SSE = "sse"


class ServerMode(enum.Enum):
    STRICT = "strict"
    DEV_PERMISSIVE = "dev_permissive"


class TlsTermination(enum.Enum):
    SERVER = "server"
    UPSTREAM = "upstream"


class AuthMode(enum.Enum):
    LOCAL_ONLY = "local_only"
    BEARER_TOKEN = "bearer_token"  # noqa: S105 - a mode name, not a secret
    MTLS = "mtls"


class ToolVisibilityMode(enum.Enum):
    FILTER = "filter"
    PASSTHROUGH = "passthrough"


class FeedbackLevel(enum.Enum):
    SUMMARY = "summary"
    TRACE = "trace"
    EVIDENCE = "evidence"

    @property
    def rank(self) -> int:
        return ("summary", "trace", "evidence").index(self.value)


@attrs.frozen
class RateLimitConfig:
    max_requests: int = 1000
    window_ms: int = 1000
    max_entries: int = 4096


@attrs.frozen
class LimitsConfig:
    max_inflight: int = 256
    rate_limit: RateLimitConfig | None = None


@attrs.frozen
class RoleBinding:
    name: str
    tenant_id: int | None = None
    namespace_id: int | None = None


@attrs.frozen
class PrincipalConfig:
    subject: str
    policy_class: str | None = None
    roles: tuple[RoleBinding, ...] = ()


@attrs.frozen
class AuthConfig:
    mode: AuthMode = AuthMode.LOCAL_ONLY
    bearer_tokens: tuple[str, ...] = attrs.field(default=(), repr=False)
    mtls_subjects: tuple[str, ...] = ()
    allowed_tools: tuple[str, ...] = ()
    principals: tuple[PrincipalConfig, ...] = ()


@attrs.frozen
class TlsConfig:
    cert_path: str
    key_path: str
    client_ca_path: str | None = None
    require_client_cert: bool = True


@attrs.frozen
class AuditConfig:
    enabled: bool = True
    path: str | None = None
    log_precheck_payloads: bool = False


@attrs.frozen
class ToolVisibilityConfig:
    mode: ToolVisibilityMode = ToolVisibilityMode.FILTER
    allowlist: tuple[str, ...] = ()
    denylist: tuple[str, ...] = ()

    def allows(self, tool: str) -> bool:
        if tool in self.denylist:
            return False
        return not self.allowlist or tool in self.allowlist


@attrs.frozen
class ScenarioNextFeedback:
    default: FeedbackLevel = FeedbackLevel.SUMMARY
    local_only_default: FeedbackLevel = FeedbackLevel.TRACE
    max: FeedbackLevel = FeedbackLevel.TRACE
    trace_subjects: tuple[str, ...] = ("loopback", "stdio")
    trace_roles: tuple[str, ...] = ()
    evidence_subjects: tuple[str, ...] = ()
    evidence_roles: tuple[str, ...] = ()


@attrs.frozen
class FeedbackConfig:
    scenario_next: ScenarioNextFeedback = ScenarioNextFeedback()


@attrs.frozen
class ServerConfig:
    transport: Transport = Transport.STDIO
    mode: ServerMode = ServerMode.STRICT
    tls_termination: TlsTermination = TlsTermination.SERVER
    bind: str | None = None
    max_body_bytes: int = 1_048_576
    limits: LimitsConfig = LimitsConfig()
    auth: AuthConfig | None = None
    tls: TlsConfig | None = None
    audit: AuditConfig = AuditConfig()
    feedback: FeedbackConfig = FeedbackConfig()
    tools: ToolVisibilityConfig = ToolVisibilityConfig()

    @property
    def auth_or_default(self) -> AuthConfig:
        """An absent `[server.auth]` is `local_only`."""
        return self.auth if self.auth is not None else AuthConfig()


@attrs.frozen
class DevConfig:
    permissive: bool = False
    permissive_scope: str = "asserted_evidence_only"
    permissive_ttl_days: int | None = None
    permissive_warn: bool = True
    permissive_exempt_providers: tuple[str, ...] = ("assetcore_read", "assetcore")


@attrs.frozen
class AssetcoreAuthority:
    base_url: str
    auth_token: str | None = attrs.field(default=None, repr=False)
    connect_timeout_ms: int = 500
    request_timeout_ms: int = 2000


@attrs.frozen
class NamespaceAuthorityConfig:
    mode: str = "none"
    assetcore: AssetcoreAuthority | None = None


@attrs.frozen
class NamespaceConfig:
    allow_default: bool = False
    default_tenants: tuple[int, ...] = ()
    authority: NamespaceAuthorityConfig = NamespaceAuthorityConfig()


@attrs.frozen
class EvidenceConfig:
    allow_raw_values: bool = False
    require_provider_opt_in: bool = True


@attrs.frozen
class ValidationConfig:
    strict: bool = True
    profile: str = "strict_core_v1"
    allow_permissive: bool = False
    enable_lexicographic: bool = False
    enable_deep_equals: bool = False


@attrs.frozen
class ProviderDiscoveryConfig:
    allowlist: tuple[str, ...] = ()
    denylist: tuple[str, ...] = ()
    max_response_bytes: int = 1_048_576


@attrs.frozen
class DocsConfig:
    enabled: bool = True
    enable_search: bool = True
    enable_resources: bool = True
    include_default_docs: bool = True
    extra_paths: tuple[str, ...] = ()
    max_doc_bytes: int = 262_144
    max_total_bytes: int = 1_048_576
    max_docs: int = 32
    max_sections: int = 10


@attrs.frozen
class TrustConfig:
    default_policy: Any = "audit"
    min_lane: str = "verified"


@attrs.frozen
class ProviderEntry:
    """One `[[providers]]` entry; `config` is the provider's own table, untyped here."""

    name: str
    type: str
    command: tuple[str, ...] = ()
    url: str | None = None
    allow_insecure_http: bool = False
    capabilities_path: str | None = None
    auth: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    trust: Any = None
    allow_raw: bool = False
    timeouts: Mapping[str, Any] | None = None
    config: Any = None


@attrs.frozen
class DecisionGateConfig:
    """A whole validated config: typed sections plus the raw document for the seams."""

    server: ServerConfig = ServerConfig()
    dev: DevConfig = DevConfig()
    namespace: NamespaceConfig = NamespaceConfig()
    evidence: EvidenceConfig = EvidenceConfig()
    validation: ValidationConfig = ValidationConfig()
    provider_discovery: ProviderDiscoveryConfig = ProviderDiscoveryConfig()
    docs: DocsConfig = DocsConfig()
    trust: TrustConfig = TrustConfig()
    providers: tuple[ProviderEntry, ...] = ()
    sections: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    """The validated document as parsed from TOML (every section, untyped)."""
    source: str | None = None
    """Where the config came from (a path), for messages; None when built in memory."""

    @property
    def dev_permissive(self) -> bool:
        """`server.mode = "dev_permissive"` is the legacy spelling of `dev.permissive`."""
        return self.dev.permissive or self.server.mode is ServerMode.DEV_PERMISSIVE

    @property
    def namespace_authority_label(self) -> str:
        """The runpack manifest's `security.namespace_authority`."""
        return (
            "assetcore_catalog"
            if self.namespace.authority.mode == "assetcore_http"
            else ("dg_registry")
        )
