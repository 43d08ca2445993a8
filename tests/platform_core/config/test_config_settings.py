"""Layered settings: precedence with provenance per key, strict types with
errors naming key and source, and secrets that never print."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest

from platform_core.config import (
    REDACTED,
    ConfigError,
    Secret,
    Setting,
    SettingType,
    SourceKind,
    load_settings,
    looks_secret,
)
from platform_core.errors import InvalidInput, NotFound

SCHEMA = (
    Setting("server.port", SettingType.INT, default=8080, minimum=1, maximum=65535),
    Setting("server.host", SettingType.STR, default="127.0.0.1"),
    Setting("server.debug", SettingType.BOOL, default=False),
    Setting("server.timeout", SettingType.FLOAT, default=2.5),
    Setting("server.origins", SettingType.STR_LIST, default=()),
    Setting("database.dsn", SettingType.STR),
    Setting("log.level", SettingType.STR, default="info", choices=frozenset({"info", "debug"})),
    Setting("signing.material", SettingType.STR, default="", secret=True),
    Setting("storage.dir", SettingType.PATH, default="data"),
)
DSN = "postgresql://app:hunter2@db/app"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "app.toml").write_text(
        '[server]\nport = 9000\nhost = "0.0.0.0"\n\n[database]\ndsn = "' + DSN + '"\n'
    )
    return tmp_path


def load(root: Path, **kwargs: object) -> object:
    return load_settings(SCHEMA, root=root, **kwargs)  # type: ignore[arg-type]


def test_each_layer_overrides_the_one_below_and_is_remembered(root: Path) -> None:
    settings = load_settings(
        SCHEMA, root=root, file="app.toml", env_prefix="APP_",
        env={"APP_SERVER__HOST": "10.0.0.1", "APP_SERVER__DEBUG": "yes", "HOME": "/root"},
        arguments={"server.debug": False},
    )
    assert settings["server.port"] == 9000
    assert settings.source("server.port").kind is SourceKind.FILE
    assert settings.source("server.port").location == "app.toml"
    assert settings["server.host"] == "10.0.0.1"
    assert str(settings.source("server.host")) == "env APP_SERVER__HOST"
    assert settings["server.debug"] is False
    assert settings.source("server.debug").kind is SourceKind.ARGUMENT
    assert settings["server.timeout"] == 2.5
    assert settings.source("server.timeout").kind is SourceKind.DEFAULT


def test_env_strings_are_parsed_into_the_declared_types() -> None:
    settings = load_settings(
        SCHEMA, root=Path("/nonexistent-root"), env_prefix="APP_",
        env={"APP_SERVER__PORT": " 443 ", "APP_SERVER__TIMEOUT": "0.5",
             "APP_SERVER__ORIGINS": "https://a.example, https://b.example,",
             "APP_DATABASE__DSN": DSN},
    )
    assert settings["server.port"] == 443
    assert settings["server.timeout"] == 0.5
    assert settings["server.origins"] == ("https://a.example", "https://b.example")


def test_path_settings_resolve_below_the_root(root: Path) -> None:
    settings = load_settings(SCHEMA, root=root, arguments={"database.dsn": DSN,
                                                             "storage.dir": "var/audit"})
    assert settings["storage.dir"] == root / "var" / "audit"


@pytest.mark.parametrize(
    ("env", "key", "problem"),
    [
        ({"APP_SERVER__PORT": "80a"}, "server.port", "integer"),
        ({"APP_SERVER__PORT": "9" * 5000}, "server.port", "integer"),
        ({"APP_SERVER__PORT": "0"}, "server.port", "at least"),
        ({"APP_SERVER__PORT": "70000"}, "server.port", "at most"),
        ({"APP_SERVER__DEBUG": "maybe"}, "server.debug", "true/false"),
        ({"APP_SERVER__TIMEOUT": "nan"}, "server.timeout", "finite"),
        ({"APP_SERVER__TIMEOUT": "fast"}, "server.timeout", "number"),
        ({"APP_LOG__LEVEL": "trace"}, "log.level", "one of"),
        ({"APP_STORAGE__DIR": "../etc"}, "storage.dir", ".."),
        ({"APP_STORAGE__DIR": "/etc"}, "storage.dir", "relative"),
        ({"APP_SERVER__HOST": "a\x00b"}, "server.host", "NUL"),
        ({"APP_SERVRE__PORT": "1"}, "servre.port", "unknown setting"),
    ],
)
def test_a_bad_env_value_names_its_key_and_variable(
    root: Path, env: dict[str, str], key: str, problem: str
) -> None:
    env = {"APP_DATABASE__DSN": DSN, **env}
    with pytest.raises(ConfigError, match=problem) as caught:
        load_settings(SCHEMA, root=root, env_prefix="APP_", env=env)
    assert caught.value.key == key
    assert "env APP_" in str(caught.value.source)


@pytest.mark.parametrize(
    ("toml", "key", "problem"),
    [
        ("[server]\nport = true\n", "server.port", "integer"),
        ("[server]\nport = 1.5\n", "server.port", "integer"),
        ('[server]\ndebug = "true"\n', "server.debug", "boolean"),
        ("[server]\nhost = 5\n", "server.host", "string"),
        ("[server]\norigins = [1, 2]\n", "server.origins", "list of strings"),
        ("[server]\nprot = 1\n", "server.prot", "unknown setting"),
        ("[server.port]\nvalue = 1\n", "server.port.value", "unknown setting"),
    ],
)
def test_a_bad_file_value_names_its_key_and_file(
    tmp_path: Path, toml: str, key: str, problem: str
) -> None:
    (tmp_path / "bad.toml").write_text('[database]\ndsn = "x"\n' + toml)
    with pytest.raises(ConfigError, match=problem) as caught:
        load_settings(SCHEMA, root=tmp_path, file="bad.toml")
    assert caught.value.key == key
    assert str(caught.value.source) == "file bad.toml"


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"[server\nport = 1", "not valid TOML"), (b"x = '\xff'", "not UTF-8")],
)
def test_an_unparseable_file_is_a_config_error_naming_the_file(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    (tmp_path / "broken.toml").write_bytes(content)
    with pytest.raises(ConfigError, match=problem) as caught:
        load_settings(SCHEMA, root=tmp_path, file="broken.toml")
    assert "broken.toml" in str(caught.value)


def test_an_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    (tmp_path / "big.toml").write_text("# " + "x" * 2000 + "\n")
    with pytest.raises(ConfigError, match="larger than 1000 bytes"):
        load_settings(SCHEMA, root=tmp_path, file="big.toml", max_file_bytes=1000)


def test_a_symlinked_settings_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real.toml").write_text('[database]\ndsn = "x"\n')
    (tmp_path / "app.toml").symlink_to(tmp_path / "real.toml")
    with pytest.raises(ConfigError, match="symlink"):
        load_settings(SCHEMA, root=tmp_path, file="app.toml")


def test_a_settings_file_outside_the_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    with pytest.raises(ConfigError, match=r"\.\."):
        load_settings(SCHEMA, root=tmp_path / "root", file="../app.toml")


def test_a_missing_required_setting_is_named() -> None:
    with pytest.raises(ConfigError, match="required") as caught:
        load_settings(SCHEMA, root=Path("/"), env_prefix="APP_", env={})
    assert caught.value.key == "database.dsn"


def test_an_unknown_argument_is_rejected(root: Path) -> None:
    with pytest.raises(ConfigError, match="unknown setting") as caught:
        load_settings(SCHEMA, root=root, arguments={"database.dsn": DSN, "nope": 1})
    assert caught.value.key == "nope"


def test_secrets_are_redacted_in_dump_repr_str_explain_and_logs(
    root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(
        SCHEMA, root=root, file="app.toml", arguments={"signing.material": "s3cr3t-key"}
    )
    renderings = [
        repr(settings), str(settings), f"{settings}", repr(settings.dump()),
        repr(settings.explain()), repr(settings["database.dsn"]),
        str(settings["database.dsn"]), f"{settings['signing.material']}",
    ]
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("settings %s %r", settings, settings["database.dsn"])
    renderings.append(caplog.text)
    for text in renderings:
        assert "hunter2" not in text
        assert "s3cr3t" not in text
    assert settings.dump()["database.dsn"] == REDACTED
    assert settings.dump()["server.port"] == 9000


def test_a_secret_is_revealed_only_on_request(root: Path) -> None:
    settings = load_settings(SCHEMA, root=root, file="app.toml")
    secret = settings["database.dsn"]
    assert isinstance(secret, Secret)
    assert secret.reveal() == DSN
    assert secret == Secret(DSN)
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_an_invalid_secret_value_is_rejected_without_echoing_it(tmp_path: Path) -> None:
    schema = (Setting("api.token", SettingType.INT),)
    with pytest.raises(ConfigError) as caught:
        load_settings(schema, env_prefix="APP_", env={"APP_API__TOKEN": "tok_live_abc123"})
    assert "tok_live" not in str(caught.value)


@pytest.mark.parametrize(
    "key", ["db.password", "oidc.client_secret", "api_key", "github.token", "signing.private_key",
            "database.dsn", "smtp.auth", "session.cookie_key"],
)
def test_secret_looking_names_are_treated_as_secret(key: str) -> None:
    assert looks_secret(key)


@pytest.mark.parametrize("key", ["server.port", "log.level", "tenant.name"])
def test_ordinary_names_are_not_treated_as_secret(key: str) -> None:
    assert not looks_secret(key)


def test_reading_an_undeclared_key_is_not_found(root: Path) -> None:
    settings = load_settings(SCHEMA, root=root, file="app.toml")
    with pytest.raises(NotFound):
        settings["server.nope"]


@pytest.mark.parametrize("prefix", ["app_", "APP", "", "1APP_", "APP_\n"])
def test_a_malformed_env_prefix_is_rejected(prefix: str) -> None:
    with pytest.raises(InvalidInput):
        load_settings(SCHEMA, env_prefix=prefix, env={})


def test_a_schema_with_a_duplicate_or_malformed_key_is_rejected() -> None:
    with pytest.raises(InvalidInput):
        load_settings([Setting("a", SettingType.STR), Setting("a", SettingType.INT)])
    with pytest.raises(InvalidInput):
        Setting("Bad Key", SettingType.STR)
    with pytest.raises(InvalidInput):
        Setting("key\n", SettingType.STR)
