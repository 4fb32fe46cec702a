"""The generated loader: defaults, then the TOML file, then the environment; all errors at once."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import DATA


@pytest.fixture
def spec(generated: Callable[..., ModuleType]) -> ModuleType:
    return generated((DATA / "spec.toml").read_text(encoding="utf-8"), "MYAPP_")


@pytest.fixture
def every(generated: Callable[..., ModuleType]) -> ModuleType:
    return generated((DATA / "everything.toml").read_text(encoding="utf-8"), "DEMO_")


REQUIRED = {"MYAPP_DATABASE_PASSWORD": "pw"}
EVERY_REQUIRED = {"DEMO_DATABASE_PASSWORD": "long-enough"}


def problems(module: ModuleType, *args: object, **kwargs: object) -> list[str]:
    with pytest.raises(module.ConfigError) as info:
        module.load_config(*args, **kwargs)
    return [str(problem) for problem in info.value.problems]


def test_defaults(spec: ModuleType) -> None:
    config = spec.default_config()
    assert config == spec.Config()
    assert config.server.port == 8080
    assert config.server.allowed_hosts == ("localhost",)
    assert config.server.tls.enabled is False
    assert dict(config.labels) == {"team": "core"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.server.port = 1
    with pytest.raises(TypeError):
        config.labels["team"] = "x"
    assert not hasattr(config.server, "__dict__")  # slotted


def test_environment_overrides_every_type(every: ModuleType) -> None:
    env = {
        **EVERY_REQUIRED,
        "DEMO_NAME": "svc",
        "DEMO_DEBUG": "yes",
        "DEMO_RATIO": "0.5",
        "DEMO_STARTED": "2025-01-01T00:00:00Z",
        "DEMO_RELEASE_DAY": "2025-02-03",
        "DEMO_BACKUP_AT": "23:59:01",
        "DEMO_TAGS": "a, b ,c",
        "DEMO_MATRIX": "[[1], [2, 3]]",
        "DEMO_WEIGHTS": "1, 2.5",
        "DEMO_SERVER_PORT": " 9000 ",
        "DEMO_SERVER_TLS_ENABLED": "on",
        "DEMO_SERVER_TLS_CLIENT_AUTH_MODE": "required",
        "DEMO_API_KEY": "prod-key",
        "DEMO_LABELS": '{team = "edge"}',
        "DEMO_UPSTREAMS": '{a = {url = "http://a", timeout = 1.5}}',
    }
    config = every.load_config(env=env)
    assert config.name == "svc"
    assert config.debug is True
    assert config.ratio == 0.5
    assert config.started == datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    assert config.release_day == datetime.date(2025, 2, 3)
    assert config.backup_at == datetime.time(23, 59, 1)
    assert config.tags == ("a", "b", "c")
    assert config.matrix == ((1,), (2, 3))
    assert config.weights == (1.0, 2.5)
    assert config.server.port == 9000
    assert config.server.tls.enabled is True
    assert config.server.tls.client_auth.mode == "required"
    assert config.api_key == "prod-key"
    assert dict(config.labels) == {"team": "edge"}
    assert config.upstreams["a"] == every.UpstreamsEntry(url="http://a", timeout=1.5)
    assert config.database.password == "long-enough"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("1", True),
        ("YES", True),
        ("On", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("off", False),
    ],
)
def test_bool_spellings(spec: ModuleType, text: str, value: bool) -> None:
    config = spec.load_config(env={**REQUIRED, "MYAPP_SERVER_TLS_ENABLED": text})
    assert config.server.tls.enabled is value


def test_file_then_environment(spec: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "prod.toml"
    path.write_text(
        '[server]\nport = 9001\nhost = "10.0.0.1"\n[database]\npassword = "from-file"\n'
    )
    config = spec.load_config(path, env={"MYAPP_SERVER_PORT": "9002"})
    assert config.server.port == 9002
    assert config.server.host == "10.0.0.1"
    assert config.database.password == "from-file"
    assert config.server.tls == spec.ServerTls()


def test_config_file_variable(spec: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "prod.toml"
    path.write_text("[server]\nport = 7000\n")
    config = spec.load_config(env={**REQUIRED, "MYAPP_CONFIG_FILE": str(path)})
    assert config.server.port == 7000
    assert spec.CONFIG_FILE_ENV == "MYAPP_CONFIG_FILE"


def test_all_problems_reported_together_and_masked(spec: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "prod.toml"
    path.write_text("[server]\nport = 70000\nprot = 1\n\n[database]\npool_size = 0\n")
    found = problems(
        spec,
        path,
        env={
            "MYAPP_SERVER_TLS_ENABLED": "maybe",
            "MYAPP_DATABASE_POOL_SIZE": "12x",
            "MYAPP_SERVER_ALLOWED_HOSTS": "[1, 2",
        },
    )
    shown = str(path)
    assert found == [
        f"server.prot: unknown key (did you mean 'port'?) ({shown}:3)",
        f"server.port: 70000 is above max=65535 ({shown}:2)",
        f"database.pool_size: 0 is below min=1 ({shown}:6)",
        "server.allowed_hosts: expected list[str] (a TOML array or comma-separated values), got '[1, 2'"
        " (environment variable MYAPP_SERVER_ALLOWED_HOSTS)",
        "server.tls.enabled: expected bool (true/false, 1/0, yes/no, on/off), got 'maybe'"
        " (environment variable MYAPP_SERVER_TLS_ENABLED)",
        "database.password: required: set it in the config file or in MYAPP_DATABASE_PASSWORD (default)",
        "database.pool_size: expected int, got '12x' (environment variable MYAPP_DATABASE_POOL_SIZE)",
    ]


def test_error_message_lists_every_problem(spec: ModuleType) -> None:
    with pytest.raises(spec.ConfigError) as info:
        spec.load_config(env={"MYAPP_SERVER_PORT": "0"})
    assert str(info.value) == (
        "2 problems in the configuration:\n"
        "  server.port: 0 is below min=1 (environment variable MYAPP_SERVER_PORT)\n"
        "  database.password: required: set it in the config file or in MYAPP_DATABASE_PASSWORD (default)"
    )
    assert isinstance(info.value, ValueError)


def test_sensitive_values_never_shown(every: ModuleType) -> None:
    config = every.load_config(
        env={"DEMO_DATABASE_PASSWORD": "hunter2-secret", "DEMO_API_KEY": "k-123"}
    )
    for text in (repr(config), str(config), repr(config.database)):
        assert "hunter2-secret" not in text
        assert "k-123" not in text
        assert "password='***'" in text or "api_key='***'" in text
    found = problems(every, env={"DEMO_DATABASE_PASSWORD": "short"})
    assert found == [
        "database.password: length 5 is below min=8 (environment variable DEMO_DATABASE_PASSWORD)"
    ]
    assert all("short" not in p for p in found)


def test_sensitive_bad_type_is_masked(generated: Callable[..., ModuleType]) -> None:
    module = generated("token = 0  # sensitive\n")
    assert problems(module, env={"APP_TOKEN": "s3cr3t"}) == [
        "token: expected int, got '***' (environment variable APP_TOKEN)"
    ]


def test_custom_env_name(every: ModuleType) -> None:
    config = every.load_config(env={**EVERY_REQUIRED, "DEMO_API_KEY": "custom"})
    assert config.api_key == "custom"
    assert every.load_config(env={**EVERY_REQUIRED, "DEMO_API_KEY_X": "x"}).api_key == "dev-key"


def test_rules_on_environment_values(every: ModuleType) -> None:
    assert problems(
        every,
        env={
            **EVERY_REQUIRED,
            "DEMO_MODE": "turbo",
            "DEMO_SERVER_HOSTNAME": "Bad_Host",
            "DEMO_SERVER_ALLOWED_HOSTS": "",
        },
    ) == [
        "mode: 'turbo' is not one of fast|safe|slow (environment variable DEMO_MODE)",
        "server.hostname: 'Bad_Host' does not match pattern=^[a-z][a-z0-9-]{0,62}$"
        " (environment variable DEMO_SERVER_HOSTNAME)",
        "server.allowed_hosts: length 0 is below min=1 (environment variable DEMO_SERVER_ALLOWED_HOSTS)",
    ]


def test_wrong_types_in_file(every: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        'debug = "yes"\nratio = true\nrelease_day = 2024-01-01T00:00:00\ntags = [1]\n'
        '[upstreams.x]\nurl = "u"\n[database]\npassword = "long-enough"\n'
    )
    shown = str(path)
    assert problems(every, path, env={}) == [
        f"debug: expected bool, got 'yes' ({shown}:1)",
        f"ratio: expected float, got True ({shown}:2)",
        f"release_day: expected date, got datetime.datetime(2024, 1, 1, 0, 0) ({shown}:3)",
        f"tags: expected list[str], got [1] ({shown}:4)",
        f"upstreams: expected dict[str, a table with keys timeout, url], got {{'x': {{'url': 'u'}}}} ({shown}:5)",
    ]


def test_int_where_float_expected_is_accepted(every: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("ratio = 1\n[server]\ntimeout = 3\n")
    config = every.load_config(path, env=EVERY_REQUIRED)
    assert config.ratio == 1.0 and isinstance(config.ratio, float)
    assert config.server.timeout == 3.0


def test_missing_and_broken_files(spec: ModuleType, tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert problems(spec, missing, env=REQUIRED) == [
        f"cannot read the file: No such file or directory ({missing})"
    ]
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\n")
    (found,) = problems(spec, broken, env=REQUIRED)
    assert found.startswith("not a valid TOML file: ") and found.endswith(f"({broken})")


def test_map_replaced_by_file(spec: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[labels]\nowner = "ops"\n')
    assert dict(spec.load_config(path, env=REQUIRED).labels) == {"owner": "ops"}
