"""Typed settings from config.toml and the environment, with one readable line per problem.

Precedence, highest first: ``DESCOPE_GITOPS_*`` env (nested with ``__``, e.g.
``DESCOPE_GITOPS_SOURCE__URL``), Descope's own ``DESCOPE_PROJECT_ID`` / ``DESCOPE_MANAGEMENT_KEY``
/ ``DESCOPE_BASE_URI``, the TOML file, then defaults. Secrets are ``SecretStr`` and may come from a
file (a Kubernetes secret mount) via the ``*_file`` keys. Used by the CLI and the engine only.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from controller.descope_api import API_RATE_LIMIT, RateLimit, parse_attribute_definitions
from controller.errors import ConfigError

ENV_PREFIX = "DESCOPE_GITOPS_"
DESCOPE_ENV = {
    "DESCOPE_PROJECT_ID": "project_id",
    "DESCOPE_MANAGEMENT_KEY": "management_key",
    "DESCOPE_BASE_URI": "base_url",
}
MAX_SECRET_FILE_BYTES = 64 * 1024


RateLimitSetting = Annotated[
    RateLimit,
    NoDecode,  # "20/4s" in an environment variable is not JSON
    PlainValidator(RateLimit.parse),
    PlainSerializer(str, return_type=str),
]
"""``"N/Ws"`` as Descope writes its limits (``"100/60s"``), or a number of requests per second."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


def _read_secret_file(path: Path, what: str) -> SecretStr:
    try:
        if path.stat().st_size > MAX_SECRET_FILE_BYTES:
            raise ValueError(f"{what} file {path} is larger than {MAX_SECRET_FILE_BYTES} bytes")
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"cannot read {what} file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what} file {path} is not UTF-8 text") from exc
    if not value:
        raise ValueError(f"{what} file {path} is empty")
    return SecretStr(value)


def _secret_or_file(value: SecretStr | None, path: Path | None, key: str) -> SecretStr | None:
    """A secret given inline or as ``<key>_file`` (a Kubernetes secret mount), never both."""
    if path is None:
        return value
    if value is not None:
        raise ValueError(f"set {key} or {key}_file, not both")
    return _read_secret_file(path, key.replace("_", " "))


class DescopeSettings(_Section):
    """How to reach the Descope project and how hard we may push it."""

    project_id: str = ""
    management_key: SecretStr | None = None
    management_key_file: Path | None = None
    base_url: str | None = Field(default=None, description="default: derived from the project id")
    rate_limit: RateLimitSetting = Field(
        default=API_RATE_LIMIT, description='at most N requests in any W seconds, "N/Ws"; a number is per second'
    )
    max_concurrency: int = Field(default=4, ge=1, le=64)
    timeout: float = Field(default=30.0, gt=0, description="seconds per HTTP request")
    max_retries: int = Field(
        default=6, ge=0, le=10, description="retries of a transient failure (503, timeout) before a call fails"
    )
    attributes: list[dict[str, Any]] | None = Field(
        default=None, description="the project's tenant custom attribute definitions, for offline checks"
    )
    attributes_file: Path | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _key_from_file(self) -> DescopeSettings:
        self.management_key = _secret_or_file(self.management_key, self.management_key_file, "management_key")
        return self

    @model_validator(mode="after")
    def _one_catalogue(self) -> DescopeSettings:
        # the file is read where it is used (engine.compose), so that only commands that check attributes fail on it
        if self.attributes is not None and self.attributes_file is not None:
            raise ValueError("set attributes or attributes_file, not both")
        if self.attributes is not None:
            parse_attribute_definitions(self.attributes)  # a ValueError says which definition is wrong
        return self


class SourceSettings(_Section):
    """Where tenants.yaml comes from."""

    kind: Literal["git", "local"] = "local"
    url: str = ""
    ref: str = "main"
    path: str = "tenants.yaml"
    token: SecretStr | None = None
    token_file: Path | None = None
    ssh_key_file: Path | None = None
    known_hosts_file: Path | None = Field(
        default=None, description="the SSH server's host keys (ssh-keyscan lines); required with an SSH url"
    )
    insecure_accept_new_host_keys: bool = Field(
        default=False, description="SSH without known_hosts_file: trust whatever host key is presented first"
    )
    interval: float = Field(default=60.0, gt=0, description="seconds between reconcile cycles")
    timeout: float = Field(default=60.0, gt=0, description="seconds per git operation")

    @model_validator(mode="after")
    def _token_from_file(self) -> SourceSettings:
        self.token = _secret_or_file(self.token, self.token_file, "token")
        if self.kind == "git" and not self.url:
            raise ValueError("kind is 'git' but url is empty")
        return self


class ReconcileSettings(_Section):
    """What a cycle is allowed to do."""

    drift_policy: Literal["correct", "report"] = "correct"
    prune: bool = False
    adopt: bool = Field(
        default=True,
        description="take over a live tenant that tenants.yaml declares and this controller did not create; "
        "false: such a tenant is a conflict, never written or pruned",
    )
    max_deletes: int = Field(default=10, ge=0)
    max_delete_ratio: float = Field(default=0.25, ge=0, le=1)
    stale_after: float = Field(default=0.0, ge=0, description="readiness bound; 0 means 3 x source.interval")
    settings_refresh_interval: float = Field(default=3600.0, gt=0, description="seconds between live settings reads")
    shutdown_timeout: float = Field(default=30.0, gt=0)
    flapping_reverts: int = Field(
        default=3,
        ge=0,
        le=1000,
        description="the same field found reverted to the same foreign value this many times within "
        "flapping_window stops correcting the tenant (another writer); 0 turns detection off",
    )
    flapping_window: float = Field(default=600.0, gt=0, description="seconds in which flapping_reverts count")

    @field_validator("flapping_reverts")
    @classmethod
    def _two_or_off(cls, value: int) -> int:
        if value == 1:
            # the first drift found would stop correction: that is drift_policy = "report", not detection
            raise ValueError('must be 0 (off) or at least 2; for "never correct" set drift_policy = "report"')
        return value


class StoreSettings(_Section):
    """The state directory: checkpoints, backups and the lock."""

    dir: Path = Path("./descope-gitops-state")


class BackupSettings(_Section):
    snapshot_interval: float = Field(default=6 * 3600, gt=0, description="seconds between full snapshots")
    retention_days: float = Field(default=30, gt=0)
    keep_snapshots: int = Field(default=28, ge=1)


class HttpSettings(_Section):
    listen: str = "0.0.0.0:9464"  # all interfaces: Prometheus and Git webhooks reach us from outside
    webhook_secret: SecretStr | None = None
    webhook_secret_file: Path | None = None
    # Bounds of the port (see controller/adapters/http_transport.py); the defaults suit a scrape storm.
    backlog: int = Field(default=1024, ge=1, le=65535, description="listen backlog: connections the kernel queues")
    max_connections: int = Field(
        default=500, ge=1, le=10000, description="open connections at once; more wait in the backlog"
    )
    request_timeout: float = Field(
        default=10.0, gt=0, le=600, description="seconds a client has to send its whole request (and to read ours)"
    )

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        _host, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"must be HOST:PORT with a port 1-65535, got {value!r}")
        return value

    @model_validator(mode="after")
    def _secret_from_file(self) -> HttpSettings:
        self.webhook_secret = _secret_or_file(self.webhook_secret, self.webhook_secret_file, "webhook_secret")
        return self


class LogSettings(_Section):
    level: Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    format: Literal["auto", "json", "text"] = "auto"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class _DescopeEnvSource(PydanticBaseSettingsSource):
    """Descope's own variables, as the SDKs read them, under [descope]."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found = {key: os.environ[var] for var, key in DESCOPE_ENV.items() if os.environ.get(var)}
        return {"descope": found} if found else {}


class Settings(BaseSettings):
    """All settings; see config.example.toml for every key with its default."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    descope: DescopeSettings = DescopeSettings()
    source: SourceSettings = SourceSettings()
    reconcile: ReconcileSettings = ReconcileSettings()
    store: StoreSettings = StoreSettings()
    backups: BackupSettings = BackupSettings()
    http: HttpSettings = HttpSettings()
    log: LogSettings = LogSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init carries the TOML file's content, so it ranks below every environment variable
        return env_settings, _DescopeEnvSource(settings_cls), init_settings

    def require_descope(self) -> None:
        """Raise ConfigError unless the project id and management key are known."""
        missing = []
        if not self.descope.project_id:
            missing.append("descope.project_id is not set (DESCOPE_PROJECT_ID or [descope] project_id)")
        if self.descope.management_key is None:
            missing.append(
                "descope.management_key is not set (DESCOPE_MANAGEMENT_KEY, [descope] management_key "
                "or management_key_file)"
            )
        if missing:
            raise ConfigError(missing)


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML file as a dict, or ConfigError naming the file and line."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError([f"config file {path} does not exist"], source=str(path)) from exc
    except OSError as exc:
        raise ConfigError([f"cannot read config file {path}: {exc.strerror or exc}"], source=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: TOML syntax error: {exc}"], source=str(path)) from exc


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings from an optional TOML file plus the environment; ConfigError lists every problem."""
    data: dict[str, Any] = read_toml(Path(config_file)) if config_file else {}
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    source = str(config_file) if config_file else "settings"
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError([_describe(err) for err in exc.errors()], source=source) from None


def _describe(error: Mapping[str, Any]) -> str:
    """One line per pydantic error: dotted key, what is wrong, never the offending secret value."""
    loc = [str(part) for part in error.get("loc", ())]
    key = ".".join(loc) or "settings"
    if error.get("type") == "extra_forbidden":
        return f"{key}: unknown setting{_suggestion(loc)}"
    message = str(error.get("msg", "invalid value"))
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    secret = any(part in {"management_key", "webhook_secret", "token"} for part in loc)
    if "input" in error and not secret and not isinstance(error["input"], dict | list):
        message += f" (got {error['input']!r})"
    return f"{key}: {message}"


def _suggestion(loc: list[str]) -> str:
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        annotation = model.model_fields[part].annotation if part in model.model_fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    match = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else f"; known: {', '.join(model.model_fields)}"
