"""`decision-gate.toml`: the server's configuration, validated before anything starts.

`load_config(path)` returns a `DecisionGateConfig` or raises `ConfigError`
listing every problem with its TOML path. The presets shipped in
`decision_gate.contract.presets` load as they are.
"""

from decision_gate.config.loader import (
    CONFIG_ENV_VAR,
    MAX_CONFIG_BYTES,
    ConfigError,
    ConfigProblem,
    config_from_document,
    is_loopback_bind,
    load_config,
    parse_bind,
    parse_config,
    resolve_config_path,
)
from decision_gate.config.model import (
    AuthConfig,
    AuthMode,
    DecisionGateConfig,
    ServerConfig,
    ServerMode,
    Transport,
)

__all__ = [
    "CONFIG_ENV_VAR",
    "MAX_CONFIG_BYTES",
    "AuthConfig",
    "AuthMode",
    "ConfigError",
    "ConfigProblem",
    "DecisionGateConfig",
    "ServerConfig",
    "ServerMode",
    "Transport",
    "config_from_document",
    "is_loopback_bind",
    "load_config",
    "parse_bind",
    "parse_config",
    "resolve_config_path",
]
