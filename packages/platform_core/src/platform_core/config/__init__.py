"""Hardened configuration: layered settings with provenance and redaction,
paths confined to a root without symlinks, and size-capped reads.

Invariant: a value either passed the schema and is reported with the layer it
came from, or loading failed with a `ConfigError` naming key and source;
secrets never appear in any rendering of the settings.
"""

from platform_core.config.paths import FileTooLarge, UnsafePath, check_path_within, read_capped
from platform_core.config.settings import (
    DEFAULT_MAX_FILE_BYTES,
    REDACTED,
    ConfigError,
    Secret,
    Setting,
    Settings,
    SettingType,
    Source,
    SourceKind,
    load_settings,
    looks_secret,
)

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "REDACTED",
    "ConfigError",
    "FileTooLarge",
    "Secret",
    "Setting",
    "SettingType",
    "Settings",
    "Source",
    "SourceKind",
    "UnsafePath",
    "check_path_within",
    "load_settings",
    "looks_secret",
    "read_capped",
]
