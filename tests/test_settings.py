"""Settings: precedence, secrets from files, and one readable line per problem."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from controller.descope_api import RateLimit
from controller.errors import ConfigError
from controller.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("DESCOPE_GITOPS_", "DESCOPE_")):
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_environment_overrides_file_and_descope_variables_are_honoured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(tmp_path, '[descope]\nproject_id = "Pfile"\nrate_limit = 5\n[reconcile]\nprune = false\n')
    monkeypatch.setenv("DESCOPE_PROJECT_ID", "Penv")
    monkeypatch.setenv("DESCOPE_MANAGEMENT_KEY", "key-from-env")
    monkeypatch.setenv("DESCOPE_GITOPS_RECONCILE__PRUNE", "true")
    settings = load_settings(config)
    assert settings.descope.project_id == "Penv"
    assert settings.descope.rate_limit == RateLimit(5, 1.0)  # a plain number is still per second
    assert settings.reconcile.prune is True
    assert settings.descope.management_key is not None
    assert settings.descope.management_key.get_secret_value() == "key-from-env"


def test_gitops_prefix_beats_descope_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESCOPE_PROJECT_ID", "Pdescope")
    monkeypatch.setenv("DESCOPE_GITOPS_DESCOPE__PROJECT_ID", "Pgitops")
    assert load_settings().descope.project_id == "Pgitops"


def test_management_key_from_file(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("file-secret\n")
    config = write(tmp_path, f'[descope]\nproject_id = "P1"\nmanagement_key_file = "{key_file}"\n')
    settings = load_settings(config)
    assert settings.descope.management_key is not None
    assert settings.descope.management_key.get_secret_value() == "file-secret"
    assert "file-secret" not in repr(settings)


def test_every_problem_reported_once_with_a_suggestion(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        '[descope]\nrate_limit = "fast"\nmanagement_key = "hunter22"\n[source]\nurll = "x"\n'
        '[reconcile]\ndrift_policy = "fix"\nmax_delete_ratio = 2\n[http]\nlisten = "nope"\n',
    )
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    message = str(info.value)
    assert str(config) in message
    assert "descope.rate_limit" in message and "'fast'" in message
    assert "source.urll: unknown setting; did you mean 'url'?" in message
    assert "reconcile.drift_policy" in message and "'correct' or 'report'" in message
    assert "reconcile.max_delete_ratio" in message
    assert "http.listen" in message
    assert len(info.value.problems) == 5
    assert "hunter22" not in message


def test_rate_limit_defaults_to_descopes_published_api_limit() -> None:
    assert str(Settings().descope.rate_limit) == "100/60s"
    assert Settings().descope.rate_limit == RateLimit(100, 60.0)


def test_rate_limit_in_descopes_form_from_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path, '[descope]\nrate_limit = "1000/10s"\n')
    assert load_settings(config).descope.rate_limit == RateLimit(1000, 10.0)
    monkeypatch.setenv("DESCOPE_GITOPS_DESCOPE__RATE_LIMIT", "20/4s")
    assert load_settings(config).descope.rate_limit == RateLimit(20, 4.0)
    monkeypatch.setenv("DESCOPE_GITOPS_DESCOPE__RATE_LIMIT", "2.5")
    assert load_settings(config).descope.rate_limit == RateLimit(2, 0.8)  # 2.5 per second, in whole requests


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('"100/0s"', "the window must be longer than 0 seconds"),
        ('"0/60s"', "must allow at least 1 request per window"),
        ('"abc"', 'must be "N/Ws"'),
        ('"100/1m"', 'must be "N/Ws"'),
        ("0", "must be more than 0 requests per second"),
        ("-3", "must be more than 0 requests per second"),
    ],
)
def test_a_bad_rate_limit_is_one_clear_line(tmp_path: Path, value: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, f"[descope]\nrate_limit = {value}\n"))
    assert len(info.value.problems) == 1
    (problem,) = info.value.problems
    assert problem.startswith("descope.rate_limit: ") and reason in problem and "\n" not in problem
    assert f"(got {value.strip(chr(34))!r})" in problem or f"(got {value})" in problem


def test_secret_value_never_echoed_in_errors(tmp_path: Path) -> None:
    config = write(tmp_path, "[descope]\nmanagement_key = 12345678\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert "12345678" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[descope\nproject_id = 1", "TOML syntax error"),
        ("", None),
    ],
)
def test_toml_syntax_error_names_the_file(tmp_path: Path, text: str, fragment: str | None) -> None:
    config = write(tmp_path, text)
    if fragment is None:
        assert load_settings(config).descope.project_id == ""
        return
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert fragment in str(info.value) and str(config) in str(info.value)


def test_missing_config_file_and_unreadable_key_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "absent.toml")
    config = write(tmp_path, f'[descope]\nmanagement_key_file = "{tmp_path / "nokey"}"\n')
    with pytest.raises(ConfigError, match="cannot read management key file"):
        load_settings(config)


def test_ssh_host_key_settings_from_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hosts = tmp_path / "known_hosts"
    config = write(
        tmp_path, f'[source]\nkind = "git"\nurl = "git@github.com:org/tenants.git"\nknown_hosts_file = "{hosts}"\n'
    )
    settings = load_settings(config)
    assert settings.source.known_hosts_file == hosts
    assert settings.source.insecure_accept_new_host_keys is False  # strict unless said otherwise
    monkeypatch.setenv("DESCOPE_GITOPS_SOURCE__KNOWN_HOSTS_FILE", "/var/run/secrets/git/known_hosts")
    monkeypatch.setenv("DESCOPE_GITOPS_SOURCE__INSECURE_ACCEPT_NEW_HOST_KEYS", "true")
    settings = load_settings(config)
    assert settings.source.known_hosts_file == Path("/var/run/secrets/git/known_hosts")
    assert settings.source.insecure_accept_new_host_keys is True


def test_an_ssh_source_without_known_hosts_is_refused_when_it_is_built(tmp_path: Path) -> None:
    """The settings load; building the Git source (every command that reads it, and the daemon) says what to add."""
    from controller.engine.compose import source_from_settings

    base = f'[store]\ndir = "{tmp_path / "state"}"\n[source]\nkind = "git"\nurl = "ssh://git@github.com/org/t.git"\n'
    with pytest.raises(ConfigError) as info:
        source_from_settings(load_settings(write(tmp_path, base)))
    assert "known_hosts_file: an SSH URL needs the server's host key" in str(info.value)
    assert "ssh-keyscan github.com" in str(info.value)

    (tmp_path / "known_hosts").write_text("github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoq\n")
    strict = base + f'known_hosts_file = "{tmp_path}/known_hosts"\n'
    source = source_from_settings(load_settings(write(tmp_path, strict)))
    assert "StrictHostKeyChecking=yes" in (getattr(source, "ssh_command", None) or "")

    source = source_from_settings(load_settings(write(tmp_path, base + "insecure_accept_new_host_keys = true\n")))
    assert getattr(source, "insecure_host_keys", False) is True


def test_require_descope_lists_what_is_missing() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings().require_descope()
    assert "DESCOPE_PROJECT_ID" in str(info.value) and "DESCOPE_MANAGEMENT_KEY" in str(info.value)


def _keys(model: type, prefix: str = "") -> set[str]:
    from pydantic import BaseModel

    keys: set[str] = set()
    for name, info in model.model_fields.items():  # type: ignore[attr-defined]
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _keys(annotation, f"{prefix}{name}.")
        else:
            keys.add(f"{prefix}{name}")
    return keys


def test_config_example_documents_every_setting_with_its_default() -> None:
    text = (ROOT / "config.example.toml").read_text()
    data = tomllib.loads(text)
    # keys commented out are documented too: uncomment them to check they are known
    uncommented = tomllib.loads(
        "\n".join(line[2:] if line.startswith("# ") and " = " in line else line for line in text.splitlines())
    )
    documented = {f"{section}.{key}" for section, values in uncommented.items() for key in values}
    assert documented == _keys(Settings)
    defaults = Settings()
    for section, values in data.items():
        for key, value in values.items():
            actual = getattr(getattr(defaults, section), key)
            expected = Path(value) if isinstance(actual, Path) else value
            expected = RateLimit.parse(value) if isinstance(actual, RateLimit) else expected
            assert actual == expected, f"{section}.{key}: example {value!r}, default {actual!r}"
