"""The built-in access seams: allow-all authorizer, no-op meter, the default
namespace authority. They are the open-source defaults; enterprise plugins
replace them by config name."""

from decision_gate.access.defaults import AllowAllAuthorizer, NoNamespaceAuthority, NoopUsageMeter

__all__ = ["AllowAllAuthorizer", "NoNamespaceAuthority", "NoopUsageMeter"]
