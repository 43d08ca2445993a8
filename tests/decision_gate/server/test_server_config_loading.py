"""decision-gate.toml loading: the reference's schema, one precise problem per bad key."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from decision_gate.config import (
    AuthMode,
    ConfigError,
    Transport,
    load_config,
    parse_config,
)
from decision_gate.config.model import FeedbackLevel, ToolVisibilityMode

PRESETS = sorted(
    entry.name
    for entry in resources.files("decision_gate.contract").joinpath("presets").iterdir()
    if entry.name.endswith(".toml")
)


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_config(text)
    return [str(problem) for problem in raised.value.problems]


@pytest.mark.parametrize("name", PRESETS)
def test_every_shipped_preset_loads_as_it_is(name: str) -> None:
    path = resources.files("decision_gate.contract").joinpath("presets", name)

    config = load_config(str(path))

    assert config.server.transport is Transport.HTTP
    assert [p.name for p in config.providers] == ["time", "env", "json", "http"]


def test_the_five_reference_presets_are_shipped() -> None:
    assert PRESETS == [
        "ci-release-gate.toml",
        "container-prod.toml",
        "default-recommended.toml",
        "hardened.toml",
        "quickstart-dev.toml",
    ]


def test_an_empty_file_is_the_reference_defaults() -> None:
    config = parse_config("")

    assert config.server.transport is Transport.STDIO
    assert config.server.auth_or_default.mode is AuthMode.LOCAL_ONLY
    assert config.server.max_body_bytes == 1_048_576
    assert config.server.limits.max_inflight == 256
    assert config.server.limits.rate_limit is None
    assert config.server.tools.mode is ToolVisibilityMode.FILTER
    assert config.server.feedback.scenario_next.local_only_default is FeedbackLevel.TRACE
    assert config.namespace.allow_default is False
    assert config.evidence.allow_raw_values is False
    assert config.validation.strict is True
    assert config.docs.max_sections == 10
    assert config.dev_permissive is False


def test_preset_values_reach_the_typed_config() -> None:
    path = resources.files("decision_gate.contract").joinpath("presets", "hardened.toml")

    config = load_config(str(path))

    auth = config.server.auth_or_default
    assert auth.mode is AuthMode.BEARER_TOKEN
    assert auth.principals[0].roles[0].name == "TenantAdmin"
    assert config.sections["schema_registry"]["acl"]["require_signing"] is True


def test_an_unknown_key_is_named_with_its_toml_path() -> None:
    assert problems_of('[server]\ntransprot = "http"\n') == ["server.transprot: unknown key"]


def test_an_unknown_key_inside_an_array_of_tables_names_the_index() -> None:
    text = (
        '[[providers]]\nname = "time"\ntype = "builtin"\n'
        '[[providers]]\nname = "env"\ntype = "builtin"\nalow_raw = true\n'
    )

    assert problems_of(text) == ["providers[1].alow_raw: unknown key"]


def test_every_bad_key_is_reported_at_once() -> None:
    text = '[server]\nmode = "loose"\nmax_body_bytes = 0\n[server.auth]\nmode = "bearer"\n'

    assert problems_of(text) == [
        'server.auth.mode: must be one of "local_only", "bearer_token", "mtls", got "bearer"',
        "server.max_body_bytes: must be at least 1, got 0",
        'server.mode: must be one of "strict", "dev_permissive", got "loose"',
    ]


def test_a_wrong_type_says_what_was_expected() -> None:
    assert problems_of("[server]\nbind = 3\n") == [
        "server.bind: must be of type null or string, got an integer"
    ]


def test_http_transport_requires_a_bind_address() -> None:
    assert problems_of('[server]\ntransport = "http"\n') == ["server.bind: is required here"]


def test_an_auth_table_without_mode_is_local_only() -> None:
    config = parse_config('[server.auth]\nallowed_tools = ["providers_list"]\n')

    assert config.server.auth_or_default.mode is AuthMode.LOCAL_ONLY


def test_bearer_mode_needs_a_token() -> None:
    assert problems_of('[server.auth]\nmode = "bearer_token"\n') == [
        "server.auth.bearer_tokens: is required here"
    ]


def test_a_non_loopback_bind_with_local_only_auth_is_refused() -> None:
    assert problems_of('[server]\ntransport = "http"\nbind = "0.0.0.0:8080"\n') == [
        "server.bind: a non-loopback bind needs bearer_token or mtls auth (local_only is set)"
    ]


def test_an_unparsable_bind_is_refused() -> None:
    (problem,) = problems_of('[server]\ntransport = "http"\nbind = "localhost"\n')

    assert problem.startswith("server.bind: invalid bind address 'localhost'")


def test_stdio_with_bearer_auth_is_refused() -> None:
    text = '[server.auth]\nmode = "bearer_token"\nbearer_tokens = ["t"]\n'

    assert problems_of(text) == ["server.auth.mode: stdio transport requires local_only auth"]


def test_a_token_with_surrounding_whitespace_is_refused() -> None:
    text = (
        '[server]\ntransport = "http"\nbind = "127.0.0.1:1"\n'
        '[server.auth]\nmode = "bearer_token"\nbearer_tokens = [" t"]\n'
    )

    assert problems_of(text) == [
        "server.auth.bearer_tokens[0]: must not be blank or have surrounding whitespace"
    ]


def test_an_unknown_tool_in_the_allowlist_is_refused() -> None:
    (problem,) = problems_of('[server.auth]\nallowed_tools = ["scenario_delete"]\n')

    assert problem.startswith("server.auth.allowed_tools[0]: must be one of")


def test_non_strict_validation_needs_the_explicit_permission() -> None:
    assert problems_of("[validation]\nstrict = false\n") == [
        "validation.allow_permissive: strict = false needs allow_permissive"
    ]


def test_default_namespace_needs_tenants() -> None:
    assert problems_of("[namespace]\nallow_default = true\n") == [
        "namespace.default_tenants: allow_default = true needs tenant ids"
    ]


def test_a_sqlite_store_needs_a_path() -> None:
    assert problems_of('[run_state_store]\ntype = "sqlite"\n') == [
        "run_state_store.path: a sqlite store needs a path"
    ]


def test_an_mcp_provider_needs_a_capabilities_file() -> None:
    text = '[[providers]]\nname = "ext"\ntype = "mcp"\ncommand = ["ext-provider"]\n'

    assert problems_of(text) == ["providers[0].capabilities_path: is required here"]


def test_a_plain_http_provider_url_needs_the_insecure_opt_in() -> None:
    text = (
        '[[providers]]\nname = "ext"\ntype = "mcp"\nurl = "http://10.0.0.1/rpc"\n'
        'capabilities_path = "ext.json"\n'
    )

    assert problems_of(text) == [
        "providers[0].allow_insecure_http: an http:// url needs it set true"
    ]


def test_a_builtin_provider_cannot_take_a_command() -> None:
    text = '[[providers]]\nname = "time"\ntype = "builtin"\ncommand = ["x"]\n'

    assert problems_of(text) == ["providers[0].command: not allowed for a builtin provider"]


def test_a_builtin_provider_must_be_one_of_the_four() -> None:
    text = '[[providers]]\nname = "clock"\ntype = "builtin"\n'

    assert problems_of(text) == [
        "providers[0].name: no built-in provider 'clock' (one of env, http, json, time)"
    ]


def test_plugin_seam_tables_are_accepted_and_kept_for_the_plugins() -> None:
    text = (
        '[tenant_authorizer]\ntype = "allow_all"\n'
        '[[audit_sinks]]\ntype = "jsonl"\npath = "audit.jsonl"\n'
        '[[providers]]\nname = "weather"\ntype = "plugin"\nimplementation = "weather"\n'
    )

    config = parse_config(text)

    assert config.sections["tenant_authorizer"] == {"type": "allow_all"}
    assert config.sections["audit_sinks"] == [{"type": "jsonl", "path": "audit.jsonl"}]
    assert config.sections["providers"][0]["type"] == "plugin"


def test_a_plugin_seam_table_must_name_its_implementation() -> None:
    assert problems_of("[usage_meter]\ntimeout_ms = 5\n") == [
        "usage_meter.type: must name an implementation"
    ]


def test_invalid_toml_is_a_config_error() -> None:
    (problem,) = problems_of("[server\n")

    assert problem.startswith("not valid TOML")


def test_a_file_over_one_mebibyte_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_text("#" * (1024 * 1024 + 1))

    with pytest.raises(ConfigError, match="exceeds 1048576 bytes"):
        load_config(path)


def test_a_missing_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file") as raised:
        load_config(tmp_path / "absent.toml")

    assert str(tmp_path / "absent.toml") in str(raised.value)


def test_bearer_tokens_never_appear_in_the_config_repr() -> None:
    text = (
        '[server]\ntransport = "http"\nbind = "127.0.0.1:1"\n'
        '[server.auth]\nmode = "bearer_token"\nbearer_tokens = ["s3cret-token"]\n'
    )

    config = parse_config(text)

    assert "s3cret-token" not in repr(config)
