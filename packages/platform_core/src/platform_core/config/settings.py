"""Layered settings that remember where every value came from.

Layers, lowest to highest: the schema's defaults, one TOML file read below a
root directory, environment variables with a prefix, explicit arguments.
Every key and every value is checked against the schema; an unknown key (a
typo), a wrong type or an unsafe path is a `ConfigError` naming the key and
the source, never a silent fallback. Secrets — keys marked secret or named
like one (password, token, api_key, dsn, ...) — are held in `Secret` and
print as "<redacted>" in every dump, repr, log line and error message.
"""

from __future__ import annotations

import enum
import hmac
import math
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from platform_core.config.paths import UnsafePath, check_path_within, read_capped
from platform_core.errors import InvalidInput, NotFound

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "REDACTED",
    "ConfigError",
    "Secret",
    "Setting",
    "SettingType",
    "Settings",
    "Source",
    "SourceKind",
    "load_settings",
    "looks_secret",
]

REDACTED = "<redacted>"
DEFAULT_MAX_FILE_BYTES = 1024 * 1024
_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
_PREFIX = re.compile(r"^[A-Z][A-Z0-9_]*_$")
_SECRETISH = re.compile(
    r"(password|passwd|passphrase|secret|token|api_?key|private_?key|credential|dsn|"
    r"auth|cookie|signing_key)"
)
_INT = re.compile(r"^[+-]?[0-9]{1,30}$")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def looks_secret(key: str) -> bool:
    return bool(_SECRETISH.search(key.lower()))


class Secret:
    """A secret string: it never prints, and compares in constant time."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED})"

    def __str__(self) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(Secret)

    def __reduce__(self) -> Any:
        raise TypeError("secrets cannot be pickled")


class SourceKind(enum.Enum):
    DEFAULT = "default"
    FILE = "file"
    ENV = "env"
    ARGUMENT = "argument"


@attrs.frozen
class Source:
    """Where one value came from: its layer and the file or variable name."""

    kind: SourceKind
    location: str

    def __str__(self) -> str:
        return f"{self.kind.value} {self.location}"


class ConfigError(InvalidInput):
    """A setting is unknown, missing, mistyped or unsafe; names key and source."""

    def __init__(self, key: str, source: Source | str, problem: str) -> None:
        super().__init__(f"setting {key!r} from {source}: {problem}")
        self.key = key
        self.source = source


class SettingType(enum.Enum):
    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    PATH = "path"
    STR_LIST = "str_list"


_MISSING: Any = object()


def _check_key(_instance: object, _attribute: object, value: str) -> None:
    if not isinstance(value, str) or not _KEY.fullmatch(value) or len(value) > 128:
        raise InvalidInput(f"setting key {value!r}: must be dotted lower-case names")


@attrs.frozen
class Setting:
    """One declared key. Without a default it is required."""

    key: str = attrs.field(validator=_check_key)
    type: SettingType
    default: object = _MISSING
    secret: bool = False
    choices: frozenset[str] | None = None
    minimum: float | None = None
    maximum: float | None = None
    help: str = ""

    @property
    def is_secret(self) -> bool:
        return self.secret or looks_secret(self.key)

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    def env_name(self, prefix: str) -> str:
        return prefix + self.key.upper().replace(".", "__")


@attrs.frozen
class _Resolved:
    value: object
    source: Source


class Settings:
    """The resolved values, each with its source. Read with `settings["key"]`."""

    def __init__(self, schema: Mapping[str, Setting], values: Mapping[str, _Resolved]) -> None:
        self._schema = dict(schema)
        self._values = dict(values)

    def __getitem__(self, key: str) -> Any:
        try:
            return self._values[key].value
        except KeyError:
            raise NotFound(f"no setting named {key!r}") from None

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def source(self, key: str) -> Source:
        try:
            return self._values[key].source
        except KeyError:
            raise NotFound(f"no setting named {key!r}") from None

    def is_secret(self, key: str) -> bool:
        return self._schema[key].is_secret

    def _shown(self, key: str) -> object:
        value = self._values[key].value
        if self._schema[key].is_secret or isinstance(value, Secret):
            return REDACTED
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, tuple):
            return list(value)
        return value

    def dump(self) -> dict[str, object]:
        """Every key with its value, secrets redacted: safe to log or print."""
        return {key: self._shown(key) for key in sorted(self._values)}

    def explain(self) -> list[tuple[str, object, str]]:
        """(key, redacted value, source) for every key: the provenance report."""
        return [(key, self._shown(key), str(self._values[key].source))
                for key in sorted(self._values)]

    def __repr__(self) -> str:
        return f"Settings({self.dump()!r})"

    __str__ = __repr__


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{key}."))
        else:
            flat[key] = value
    return flat


def _typed(setting: Setting, raw: object, source: Source, root: Path | None, *,
           from_text: bool) -> object:
    key = setting.key
    kind = setting.type

    def fail(problem: str) -> ConfigError:
        return ConfigError(key, source, problem)

    value: object
    if kind is SettingType.STR or kind is SettingType.PATH:
        if not isinstance(raw, str | Path) or (kind is SettingType.STR and isinstance(raw, Path)):
            raise fail("expected a string")
        value = os.fspath(raw)
        if "\x00" in str(value):
            raise fail("contains a NUL byte")
    elif kind is SettingType.BOOL:
        if from_text and isinstance(raw, str):
            lowered = raw.strip().lower()
            if lowered not in _TRUE | _FALSE:
                raise fail("expected true/false")
            value = lowered in _TRUE
        elif isinstance(raw, bool):
            value = raw
        else:
            raise fail("expected a boolean")
    elif kind is SettingType.INT:
        if from_text and isinstance(raw, str):
            if not _INT.fullmatch(raw.strip()):
                raise fail("expected an integer")
            value = int(raw.strip())
        elif isinstance(raw, int) and not isinstance(raw, bool):
            value = raw
        else:
            raise fail("expected an integer")
    elif kind is SettingType.FLOAT:
        number: float
        if from_text and isinstance(raw, str):
            try:
                number = float(raw.strip())
            except ValueError:
                raise fail("expected a number") from None
        elif isinstance(raw, int | float) and not isinstance(raw, bool):
            number = float(raw)
        else:
            raise fail("expected a number")
        if not math.isfinite(number):
            raise fail("expected a finite number")
        value = number
    else:
        if from_text and isinstance(raw, str):
            value = tuple(item.strip() for item in raw.split(",") if item.strip())
        elif isinstance(raw, list | tuple) and all(isinstance(item, str) for item in raw):
            value = tuple(raw)
        else:
            raise fail("expected a list of strings")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if setting.minimum is not None and value < setting.minimum:
            raise fail(f"must be at least {setting.minimum}")
        if setting.maximum is not None and value > setting.maximum:
            raise fail(f"must be at most {setting.maximum}")
    if setting.choices is not None and value not in setting.choices:
        raise fail(f"must be one of {sorted(setting.choices)}")
    if kind is SettingType.PATH:
        if root is None:
            raise fail("path settings need a root directory")
        try:
            value = check_path_within(root, str(value))
        except (UnsafePath, InvalidInput) as error:
            raise fail(str(error)) from None
    if setting.is_secret and isinstance(value, str):
        return Secret(value)
    return value


def load_settings(
    schema: Iterable[Setting],
    *,
    root: Path | None = None,
    file: str | None = None,
    env_prefix: str | None = None,
    env: Mapping[str, str] | None = None,
    arguments: Mapping[str, object] | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> Settings:
    """Resolve every setting of `schema` from its layers.

    `file` is relative to `root` and read without following symlinks; `env`
    defaults to the process environment when `env_prefix` is given.
    """
    declared: dict[str, Setting] = {}
    for setting in schema:
        if setting.key in declared:
            raise InvalidInput(f"setting {setting.key!r} is declared twice")
        declared[setting.key] = setting
    resolved: dict[str, _Resolved] = {}
    default_source = Source(SourceKind.DEFAULT, "schema")
    for setting in declared.values():
        if not setting.required:
            resolved[setting.key] = _Resolved(
                _typed(setting, setting.default, default_source, root, from_text=False),
                default_source,
            )

    if file is not None:
        if root is None:
            raise InvalidInput("a settings file needs a root directory")
        source = Source(SourceKind.FILE, file)
        try:
            data = read_capped(root, file, max_file_bytes)
            table = tomllib.loads(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise ConfigError("*", source, "file is not UTF-8") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError("*", source, f"not valid TOML ({error})") from None
        except (InvalidInput, NotFound) as error:
            raise ConfigError("*", source, str(error)) from None
        for key, raw in _flatten(table).items():
            if key not in declared:
                raise ConfigError(key, source, "unknown setting")
            resolved[key] = _Resolved(
                _typed(declared[key], raw, source, root, from_text=False), source
            )

    if env_prefix is not None:
        if not _PREFIX.fullmatch(env_prefix):
            raise InvalidInput("env_prefix must be upper-case and end with '_'")
        environment = os.environ if env is None else env
        by_name = {setting.env_name(env_prefix): setting for setting in declared.values()}
        for name in sorted(environment):
            if not name.startswith(env_prefix):
                continue
            source = Source(SourceKind.ENV, name)
            named = by_name.get(name)
            if named is None:
                raise ConfigError(name[len(env_prefix):].lower().replace("__", "."), source,
                                  "unknown setting")
            resolved[named.key] = _Resolved(
                _typed(named, environment[name], source, root, from_text=True), source
            )

    argument_source = Source(SourceKind.ARGUMENT, "caller")
    for key, raw in (arguments or {}).items():
        if key not in declared:
            raise ConfigError(key, argument_source, "unknown setting")
        resolved[key] = _Resolved(
            _typed(declared[key], raw, argument_source, root, from_text=False), argument_source
        )

    for setting in declared.values():
        if setting.key not in resolved:
            raise ConfigError(setting.key, "any source", "required setting is missing")
    return Settings(declared, resolved)

