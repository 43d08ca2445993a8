"""Loading `decision-gate.toml`: read, validate against the published schema, type.

Validation fails closed and says everything that is wrong at once: every
problem names its TOML path (`server.auth.mode`, `providers[2].url`) and what
is wrong there. Unknown keys are errors, as `config.schema.json` says
(`additionalProperties: false`) - stricter than the reference, which ignores
them, so a misspelt security setting can never silently fall back to a
default. After the schema come the cross-key rules the schema cannot express
(server.md §4), each reported with the path of the key to change.

`[run_state_store]`, `[schema_registry]` and `[runpack_storage]` select an
implementation with `type`. A `type` the reference defines is validated by
the reference schema; any other names a plugin's implementation (or one of
ours beyond the reference, such as `filesystem` runpack storage): the table is
passed as written to that implementation's factory, which checks its keys
when the server starts (a plugin registry's `acl` and `max_schema_bytes`
are the server's and still checked by the schema). `plugin_selected_tables` lists those tables, so
`config validate` can say which ones it could not check against the schema.

The file is read with a size cap (1 MiB) and must be UTF-8 TOML.
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import json
import os
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final

import attrs
import cattrs
import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from decision_gate.config.model import AuthMode, DecisionGateConfig, FeedbackLevel, Transport
from decision_gate.contract import load_json
from decision_gate.core.errors import InvalidInput
from decision_gate.providers import BUILTIN_PROVIDER_IDS

MAX_CONFIG_BYTES: Final = 1024 * 1024
CONFIG_ENV_VAR: Final = "DECISION_GATE_CONFIG"
DEFAULT_CONFIG_NAME: Final = "decision-gate.toml"
_BUILTIN_REJECTED_KEYS: Final = (
    "command",
    "url",
    "allow_insecure_http",
    "auth",
    "capabilities_path",
)


@attrs.frozen
class ConfigProblem:
    """One thing wrong with a config: where (a TOML path, `""` for the root) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(InvalidInput):
    """A config that does not load; `problems` lists every problem found, in file order."""

    def __init__(self, problems: Sequence[ConfigProblem], source: str | None = None) -> None:
        self.problems = tuple(problems)
        self.source = source
        where = f" ({source})" if source else ""
        listing = "; ".join(str(problem) for problem in self.problems)
        super().__init__(f"invalid config{where}: {listing}")


def resolve_config_path(path: str | os.PathLike[str] | None) -> str:
    """`--config`, else `$DECISION_GATE_CONFIG`, else `./decision-gate.toml`."""
    if path is not None:
        return os.fspath(path)
    return os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_NAME


def load_config(path: str | os.PathLike[str]) -> DecisionGateConfig:
    """Read and validate the config file at `path`."""
    source = os.fspath(path)
    try:
        with open(source, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise ConfigError(
            [ConfigProblem("", f"cannot read the config file: {error.strerror or error}")], source
        ) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError([ConfigProblem("", f"file exceeds {MAX_CONFIG_BYTES} bytes")], source)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError([ConfigProblem("", "file is not valid UTF-8")], source) from None
    return parse_config(text, source=source)


def parse_config(text: str, *, source: str | None = None) -> DecisionGateConfig:
    """Validate TOML text as a config."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([ConfigProblem("", f"not valid TOML: {error}")], source) from None
    return config_from_document(document, source=source)


def config_from_document(
    document: Mapping[str, Any], *, source: str | None = None
) -> DecisionGateConfig:
    """Validate an already parsed document (TOML tables as dicts) as a config."""
    reference, extension_problems = _split_extensions(document)
    selected = plugin_selected_tables(document)
    for key in selected:
        del reference[key]
    if "schema_registry" in selected:
        # The server, not the store, enforces these: they stay the reference's, schema-checked.
        server_keys = {k: v for k, v in document["schema_registry"].items() if k in _SERVER_KEYS}
        reference["schema_registry"] = {"type": "memory", **server_keys}
    complete = with_defaults(reference)
    problems = extension_problems + schema_problems(complete)
    if not problems:
        problems = rule_problems(reference)
    if problems:
        raise ConfigError(problems, source)
    typed = {key: complete[key] for key in _TYPED_SECTIONS if key in complete}
    complete.update({key: document[key] for key in EXTENSION_SECTIONS if key in document})
    complete.update({key: document[key] for key in selected})
    plugin_providers = [p for p in document.get("providers") or [] if _is_plugin_provider(p)]
    if plugin_providers:
        complete["providers"] = [*complete.get("providers", []), *plugin_providers]
    try:
        config = _CONVERTER.structure(typed, DecisionGateConfig)
    except cattrs.BaseValidationError as error:  # the schema admits what the types do not
        messages = cattrs.transform_error(error, path="$")
        raise ConfigError([ConfigProblem("", messages[0] if messages else str(error))]) from None
    return attrs.evolve(config, sections=complete, source=source)


# ------------------------------------------------------------------ extensions

EXTENSION_SECTIONS: Final = (
    "tenant_authorizer",
    "usage_meter",
    "namespace_authority",
    "audit_sinks",
    "dispatcher",
    "client",
)
"""Tables beyond the reference's schema: the plugin seams' selectors (each a
table with a `type`, `audit_sinks` an array of them) and the CLI's `[client]`.
Their keys are checked by the implementation they select, at start-up."""


SELECTING_SECTIONS: Final = ("run_state_store", "schema_registry", "runpack_storage")
"""Reference tables whose `type` may also name an implementation the reference
does not define (see the module doc)."""


_SERVER_KEYS: Final = ("acl", "max_schema_bytes")
"""`[schema_registry]` keys the server's registry ACL reads, whatever the store."""


def reference_types(section: str) -> frozenset[str]:
    """The `type` values the reference schema defines for a selecting table."""
    schema = load_json("config.schema.json")["properties"][section]
    values = _branch_for(schema, "object")["properties"]["type"]["enum"]
    return frozenset(values)


def plugin_selected_tables(document: Mapping[str, Any]) -> dict[str, str]:
    """The selecting tables whose `type` is not the reference's: table -> implementation."""
    selected = {}
    for key in SELECTING_SECTIONS:
        table = document.get(key)
        if not isinstance(table, Mapping):
            continue
        kind = table.get("type")
        if isinstance(kind, str) and kind and kind not in reference_types(key):
            selected[key] = kind
    return selected


def _is_plugin_provider(entry: Any) -> bool:
    return isinstance(entry, Mapping) and entry.get("type") == "plugin"


def _split_extensions(
    document: Mapping[str, Any],
) -> tuple[dict[str, Any], list[ConfigProblem]]:
    """The document the reference schema validates, and problems in the extensions."""
    problems: list[ConfigProblem] = []
    reference = {k: v for k, v in document.items() if k not in EXTENSION_SECTIONS}
    for key in EXTENSION_SECTIONS:
        if key not in document or key == "client":
            continue
        tables = document[key] if key == "audit_sinks" else [document[key]]
        if not isinstance(tables, list):
            problems.append(ConfigProblem(key, "must be an array of tables"))
            continue
        for index, table in enumerate(tables):
            path = f"{key}[{index}]" if key == "audit_sinks" else key
            if not isinstance(table, Mapping):
                problems.append(ConfigProblem(path, "must be a table"))
            elif not isinstance(table.get("type"), str) or not table["type"]:
                problems.append(ConfigProblem(f"{path}.type", "must name an implementation"))
    providers = document.get("providers")
    if isinstance(providers, list):
        reference["providers"] = [p for p in providers if not _is_plugin_provider(p)]
        for index, entry in enumerate(providers):
            if not _is_plugin_provider(entry):
                continue
            if not isinstance(entry.get("name"), str) or not entry["name"]:
                problems.append(ConfigProblem(f"providers[{index}].name", "must be set"))
            implementation = entry.get("implementation")
            if implementation is not None and not isinstance(implementation, str):
                problems.append(
                    ConfigProblem(f"providers[{index}].implementation", "must be a string")
                )
    return reference, problems


# ------------------------------------------------------------------ defaults


def with_defaults(document: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `document` with the defaults of its discriminating keys filled in.

    The schema's conditional rules (`if mode == "mtls" then ...`) hold
    vacuously for a missing key, so an `[server.auth]` table without `mode`
    would need mTLS subjects and a `[server]` table without `transport` a
    bind. Filling the keys an `if` tests (with their non-null defaults) makes
    the rules see what the reference sees. Other keys stay as written: a
    filled `allow_insecure_http = false` would trip the rule that tests `url`.
    """
    filled = _fill(copy.deepcopy(dict(document)), load_json("config.schema.json"))
    assert isinstance(filled, dict)
    return filled


def _fill(value: Any, schema: Mapping[str, Any]) -> Any:
    if isinstance(value, dict):
        branch = _branch_for(schema, "object")
        properties = branch.get("properties", {})
        for key in _discriminators(branch):
            default = properties.get(key, {}).get("default")
            if key not in value and default is not None:
                value[key] = copy.deepcopy(default)
        for key, subschema in properties.items():
            if key in value:
                value[key] = _fill(value[key], subschema)
    elif isinstance(value, list):
        items = _branch_for(schema, "array").get("items")
        if isinstance(items, dict):
            return [_fill(item, items) for item in value]
    return value


def _discriminators(schema: Mapping[str, Any]) -> set[str]:
    keys: set[str] = set()
    for rule in schema.get("allOf", ()):
        keys.update(rule.get("if", {}).get("properties", {}))
    return keys


def _branch_for(schema: Mapping[str, Any], json_type: str) -> Mapping[str, Any]:
    """The schema itself, or the `oneOf` branch declaring `json_type`."""
    for branch in schema.get("oneOf", ()):
        if branch.get("type") == json_type:
            return branch  # type: ignore[no-any-return]
    return schema


# ------------------------------------------------------------------ schema validation


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    schema = load_json("config.schema.json")
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema)


def schema_problems(document: Mapping[str, Any]) -> list[ConfigProblem]:
    """Every schema violation as a problem at its TOML path, sorted by path."""
    problems: dict[tuple[str, str], None] = {}
    for error in _validator().iter_errors(document):
        for problem in _explain(_most_specific(error)):
            problems[(problem.path, problem.message)] = None
    return sorted(
        (ConfigProblem(path, message) for path, message in problems), key=lambda p: p.path
    )


def _most_specific(error: ValidationError) -> ValidationError:
    """Descend through oneOf/anyOf to the branch error that explains the failure."""
    while error.validator in ("oneOf", "anyOf") and error.context and not _no_type_fits(error):
        candidates = _same_type_branch(error) or list(error.context)
        chosen = best_match(candidates)
        if chosen is None:
            break
        error = chosen
    return error


def _no_type_fits(error: ValidationError) -> bool:
    """Every branch of a oneOf/anyOf rejects the value's type outright."""
    branches = {sub.relative_schema_path[0] for sub in error.context or ()}
    type_failures = {
        sub.relative_schema_path[0]
        for sub in error.context or ()
        if sub.validator == "type" and len(sub.relative_schema_path) == 2
    }
    return bool(branches) and branches == type_failures


def _same_type_branch(error: ValidationError) -> list[ValidationError]:
    """The errors of the branches whose declared type matches the value, if any."""
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context or ():
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    matching = [
        errors
        for errors in branches.values()
        if not any(e.validator == "type" and len(e.relative_schema_path) == 2 for e in errors)
    ]
    return matching[0] if len(matching) == 1 else []


def toml_path(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _join(base: str, key: str) -> str:
    return f"{base}.{key}" if base else key


def _explain(error: ValidationError) -> Iterator[ConfigProblem]:
    path = toml_path(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    validator = error.validator
    if validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(schema.get("properties", {}))
        for key in sorted(set(error.instance) - known):
            yield ConfigProblem(_join(path, key), "unknown key")
        return
    if validator == "required" and isinstance(error.instance, dict):
        required: list[str] = list(error.validator_value)  # type: ignore[arg-type]
        for key in required:
            if key not in error.instance:
                yield ConfigProblem(_join(path, key), "is required here")
        return
    yield ConfigProblem(path, _describe(error))


_JSON_TYPES: Final = {
    dict: "a table",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


def _kind(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _describe(error: ValidationError) -> str:
    expected: Any = error.validator_value
    instance: Any = error.instance
    match error.validator:
        case "type" if instance is None:
            return "must be set here (it is missing or null)"
        case "type" if expected == "null":
            return f"is not allowed here (got {_kind(instance)}); see the mode or type beside it"
        case "type":
            names = expected if isinstance(expected, list) else [expected]
            return f"must be of type {' or '.join(names)}, got {_kind(instance)}"
        case "enum":
            choices = ", ".join(json.dumps(choice) for choice in expected)
            return f"must be one of {choices}, got {json.dumps(instance, default=str)}"
        case "const":
            return f"must be {json.dumps(expected)} here, got {json.dumps(instance, default=str)}"
        case "minimum":
            return f"must be at least {expected}, got {instance}"
        case "maximum":
            return f"must be at most {expected}, got {instance}"
        case "minLength":
            return "must not be empty" if expected == 1 else f"must be at least {expected} chars"
        case "maxLength":
            return f"must be at most {expected} characters long"
        case "minItems":
            return f"must list at least {expected} item(s)"
        case "maxItems":
            return f"must list at most {expected} items, got {len(instance)}"
        case "uniqueItems":
            return "must not repeat items"
        case "pattern":
            return f"must match {expected}"
        case "oneOf" | "anyOf" if _no_type_fits(error):
            names = sorted(
                {str(sub.validator_value) for sub in error.context or () if sub.validator == "type"}
            )
            return f"must be of type {' or '.join(names)}, got {_kind(instance)}"
        case _:
            return error.message


# ------------------------------------------------------------------ rules beyond the schema


def rule_problems(document: Mapping[str, Any]) -> list[ConfigProblem]:
    """The cross-key rules of server.md §4 that the schema does not express."""
    problems: list[ConfigProblem] = []
    problems += _server_problems(_table(document, "server"))
    problems += _namespace_problems(document)
    validation = _table(document, "validation")
    if validation.get("strict") is False and not validation.get("allow_permissive"):
        problems.append(
            ConfigProblem("validation.allow_permissive", "strict = false needs allow_permissive")
        )
    for section in ("run_state_store", "schema_registry"):
        problems += _store_problems(section, _table(document, section))
    problems += _provider_problems(document.get("providers") or [])
    return problems


def _table(document: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = document.get(key)
    return value if isinstance(value, Mapping) else {}


def parse_bind(bind: str) -> tuple[str, int]:
    """Split `ip:port` (`[v6]:port` for IPv6) as the reference's SocketAddr parse does."""
    host, separator, port_text = bind.rpartition(":")
    if not separator or not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError("expected ip:port")
    if host.startswith("[") and host.endswith("]"):
        address = ipaddress.ip_address(host[1:-1])
        if address.version != 6:
            raise ValueError("bracketed host must be IPv6")
    else:
        address = ipaddress.ip_address(host)
        if address.version != 4:
            raise ValueError("IPv6 hosts must be bracketed")
    return str(address), int(port_text)


def is_loopback_bind(bind: str) -> bool:
    host, _ = parse_bind(bind)
    return ipaddress.ip_address(host).is_loopback


def _server_problems(server: Mapping[str, Any]) -> list[ConfigProblem]:
    problems = []
    transport = server.get("transport", Transport.STDIO.value)
    auth = server.get("auth") or {}
    mode = auth.get("mode", AuthMode.LOCAL_ONLY.value)
    if transport == Transport.STDIO.value:
        if mode != AuthMode.LOCAL_ONLY.value:
            problems.append(
                ConfigProblem("server.auth.mode", "stdio transport requires local_only auth")
            )
        if server.get("tls") is not None:
            problems.append(ConfigProblem("server.tls", "stdio transport does not use TLS"))
    bind = server.get("bind")
    if bind is not None:
        try:
            loopback = is_loopback_bind(bind)
        except ValueError as error:
            problems.append(ConfigProblem("server.bind", f"invalid bind address {bind!r}: {error}"))
        else:
            if not loopback and mode == AuthMode.LOCAL_ONLY.value:
                problems.append(
                    ConfigProblem(
                        "server.bind",
                        "a non-loopback bind needs bearer_token or mtls auth (local_only is set)",
                    )
                )
    for index, token in enumerate(auth.get("bearer_tokens") or []):
        if token.strip() != token or not token.strip():
            problems.append(
                ConfigProblem(
                    f"server.auth.bearer_tokens[{index}]",
                    "must not be blank or have surrounding whitespace",
                )
            )
    for index, subject in enumerate(auth.get("mtls_subjects") or []):
        if not subject.strip():
            problems.append(ConfigProblem(f"server.auth.mtls_subjects[{index}]", "is blank"))
    feedback = _table(_table(server, "feedback"), "scenario_next")
    maximum = FeedbackLevel(feedback.get("max", "trace"))
    for key, default in (("default", "summary"), ("local_only_default", "trace")):
        level = FeedbackLevel(feedback.get(key, default))
        if level.rank > maximum.rank:
            problems.append(
                ConfigProblem(
                    f"server.feedback.scenario_next.{key}",
                    f"{level.value} exceeds max ({maximum.value})",
                )
            )
    return problems


def _namespace_problems(document: Mapping[str, Any]) -> list[ConfigProblem]:
    problems = []
    namespace = _table(document, "namespace")
    if namespace.get("allow_default") and not namespace.get("default_tenants"):
        problems.append(
            ConfigProblem("namespace.default_tenants", "allow_default = true needs tenant ids")
        )
    authority = _table(namespace, "authority").get("mode", "none")
    dev = _table(document, "dev")
    permissive = dev.get("permissive", False) or (
        _table(document, "server").get("mode") == "dev_permissive"
    )
    if permissive and authority == "assetcore_http":
        problems.append(
            ConfigProblem(
                "dev.permissive", "dev-permissive mode cannot be used with assetcore_http authority"
            )
        )
    return problems


def _store_problems(section: str, store: Mapping[str, Any]) -> list[ConfigProblem]:
    kind = store.get("type", "memory")
    if kind == "sqlite" and not store.get("path"):
        return [ConfigProblem(f"{section}.path", "a sqlite store needs a path")]
    if kind == "memory" and "path" in store:
        return [ConfigProblem(f"{section}.path", "a memory store takes no path")]
    return []


def _provider_problems(providers: Sequence[Mapping[str, Any]]) -> list[ConfigProblem]:
    problems = []
    seen: set[str] = set()
    for index, entry in enumerate(providers):
        base = f"providers[{index}]"
        name = entry["name"]
        if name in seen:
            problems.append(ConfigProblem(f"{base}.name", f"provider {name!r} is configured twice"))
        seen.add(name)
        if entry["type"] == "builtin":
            if name not in BUILTIN_PROVIDER_IDS:
                known = ", ".join(sorted(BUILTIN_PROVIDER_IDS))
                problems.append(
                    ConfigProblem(f"{base}.name", f"no built-in provider {name!r} (one of {known})")
                )
            for key in _BUILTIN_REJECTED_KEYS:
                if key in entry:
                    problems.append(
                        ConfigProblem(f"{base}.{key}", "not allowed for a builtin provider")
                    )
        else:
            if name in BUILTIN_PROVIDER_IDS:
                problems.append(
                    ConfigProblem(f"{base}.name", f"{name!r} is reserved for the built-in provider")
                )
            url = entry.get("url")
            if (
                isinstance(url, str)
                and url.startswith("http://")
                and not entry.get("allow_insecure_http")
            ):
                problems.append(
                    ConfigProblem(f"{base}.allow_insecure_http", "an http:// url needs it set true")
                )
            if "config" in entry:
                problems.append(ConfigProblem(f"{base}.config", "not allowed for an mcp provider"))
        timeouts = entry.get("timeouts") or {}
        if timeouts.get("request_timeout_ms", 10_000) < timeouts.get("connect_timeout_ms", 2_000):
            problems.append(
                ConfigProblem(
                    f"{base}.timeouts.request_timeout_ms", "must be at least connect_timeout_ms"
                )
            )
    return problems


# ------------------------------------------------------------------ typing

_TYPED_SECTIONS: Final = (
    "server",
    "dev",
    "namespace",
    "evidence",
    "validation",
    "provider_discovery",
    "docs",
    "trust",
    "providers",
)

_CONVERTER: Final = cattrs.Converter(forbid_extra_keys=True)
_CONVERTER.register_structure_hook(Any, lambda value, _: value)
