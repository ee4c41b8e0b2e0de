"""Configuration: ``deskroute.toml`` plus ``DESKROUTE_*`` environment variables.

Secrets never live in the file: a connector names the environment variables that hold its credentials
(``username_env``, ``password_env``, ``token_env``) and the values are read from the environment when the
connector is built. ``deskroute config show`` prints the effective configuration with secrets masked.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from connectors.records import EventKind
from connectors.redaction import mask_url, register_secret, url_secrets
from router.connector_types import UnknownAdapterError, check_adapter_type

CONFIG_ENV = "DESKROUTE_CONFIG"
DEFAULT_CONFIG_FILE = Path("deskroute.toml")

ConnectorMode = Literal["shadow", "suggest", "auto"]


def driver_url(url: str) -> str:
    """A database URL with its driver named: users paste libpq-style URLs; SQLAlchemy needs psycopg 3 named."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class ConfigError(ValueError):
    """The configuration file or environment is invalid; the message names the key and what to do."""


class ConnectorSettings(BaseModel):
    """One ``[connectors.NAME]`` table."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(description="the adapter: one of the installed connector types (router.connector_types)")
    mode: ConnectorMode = "shadow"
    base_url: str | None = None
    path: Path | None = Field(default=None, description="file connector: tickets to read (CSV or JSONL)")
    actions_path: Path | None = Field(default=None, description="file connector: where actions are appended")
    username_env: str | None = None
    password_env: str | None = None
    token_env: str | None = None
    poll_interval_seconds: float = Field(default=60.0, gt=0)
    timeout_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="the most one request may take, from connecting to the last byte"
    )
    max_response_bytes: int = Field(
        default=10 * 1024 * 1024, gt=0, description="the largest answer read from the helpdesk; larger ones fail"
    )
    rate_limit_per_minute: int | None = Field(default=None, gt=0)
    queue_map: dict[str, str] = Field(default_factory=dict, description="canonical queue -> vendor queue")
    priority_map: dict[str, str] = Field(default_factory=dict, description="canonical priority -> vendor value")
    status_map: dict[str, str] = Field(default_factory=dict, description="vendor status -> canonical status")
    tags_field: str = "deskroute tags"
    agent_user: str | None = Field(default=None, description="the helpdesk user deskroute writes as")
    page_size: int = Field(default=100, gt=0, description="records per pulled page (RT: at most 100)")
    ticket_filter: str | None = Field(
        default=None, description="limit what is pulled, in the vendor's query language (RT: TicketSQL)"
    )
    timezone: str | None = Field(
        default=None, description="rt: the RT user's time zone (IANA name); measured on the instance when unset"
    )
    outreach_queue: str | None = Field(default=None, description="queue new outreach tickets are created in")
    columns: dict[str, str] = Field(
        default_factory=dict, description="file connector: canonical field -> column, as --map for import"
    )
    options: dict[str, Any] = Field(default_factory=dict)
    webhook_secret_env: str | None = Field(
        default=None,
        description="the environment variable holding the webhook secret (the helpdesk's signing secret, or the "
        "X-Deskroute-Secret value for senders that cannot sign)",
    )
    webhook_replay_seconds: float = Field(
        default=300.0, gt=0, le=86_400, description="webhooks sent longer ago than this are refused as replays"
    )

    @field_validator("type")
    @classmethod
    def _registered_type(cls, value: str) -> str:
        # Exactly the types an installed adapter registers: a typo fails when the file is read, not at sync.
        try:
            return check_adapter_type(value)
        except UnknownAdapterError as exc:
            raise PydanticCustomError("connector_type", "{problem}", {"problem": str(exc)}) from None

    def secret(self, which: Literal["username", "password", "token", "webhook_secret"]) -> SecretStr | None:
        """Read a credential from the environment variable this connector names for it."""
        var = getattr(self, f"{which}_env")
        if not var:
            return None
        value = os.environ.get(var)
        if value is None:
            return None
        if which != "username":
            # Whatever error text a helpdesk or library echoes later, this value is scrubbed from what is shown.
            register_secret(value)
        return SecretStr(value)


class EmbeddingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, description="path or name; default: the installed MiniLM package")
    allow_download: bool = False
    max_seq_length: int | None = None
    batch_size: int = Field(default=64, gt=0)
    runtime: Literal["onnx", "torch"] = Field(
        default="onnx",
        description="what runs the encoder for a few tickets at a time: ONNX Runtime (same vectors, faster for one "
        "ticket; exported once to the user's cache) or torch; large batches always run in torch",
    )


class TrainingSettings(BaseModel):
    """How ``deskroute train`` (and the demo) fit text models."""

    model_config = ConfigDict(extra="forbid")

    attention_min_tickets: int = Field(
        default=300,
        ge=0,
        description="labelled tickets from which the attention network over token embeddings joins the text models; "
        "below it adds nothing measurable and costs most of the fit (raise it to train faster, 0: always)",
    )


class EventSettings(BaseModel):
    """Product events posted to ``/v1/events``: where they are stored and what their names mean."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(default="product", min_length=1, description="the source events and people are stored under")
    kinds: dict[str, EventKind] = Field(
        default_factory=dict, description='event name as sent -> deskroute event kind, e.g. "Signed In" = "login"'
    )
    identity_attribute: str | None = Field(
        default=None,
        description="the helpdesk customer attribute holding the product's user id (else people match by e-mail)",
    )
    keep_unmapped: bool = Field(
        default=False, description="store names missing from kinds as kind 'other' (default: count and drop them)"
    )


class Settings(BaseSettings):
    """The effective configuration. Precedence: environment > deskroute.toml > defaults."""

    model_config = SettingsConfigDict(
        env_prefix="DESKROUTE_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    database_url: str = Field(
        default="sqlite:///.deskroute/deskroute.db",
        description="SQLAlchemy URL; SQLite by default, postgresql://... for PostgreSQL",
    )
    data_dir: Path = Field(default=Path(".deskroute"), description="models, vector index, embedding cache")
    policy: Path | None = Field(default=None, description="the routing policy (YAML) stored and activated on first use")
    embeddings: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    connectors: dict[str, ConnectorSettings] = Field(default_factory=dict)
    events: EventSettings = Field(default_factory=EventSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        return driver_url(value)

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def index_path(self) -> Path:
        return self.data_dir / "index"

    @property
    def embedding_cache_dir(self) -> Path:
        return self.data_dir / "embedding-cache"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file is handed in through init kwargs by load_settings, so env still wins over it.
        return (env_settings, init_settings)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}. Fix the syntax at the position shown.") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def load_settings(path: Path | None = None) -> Settings:
    """Load settings from ``path`` (or $DESKROUTE_CONFIG, or ./deskroute.toml when present) and the env."""
    if path is None:
        env_path = os.environ.get(CONFIG_ENV)
        if env_path:
            path = Path(env_path)
        elif DEFAULT_CONFIG_FILE.exists():
            path = DEFAULT_CONFIG_FILE
    data = _read_toml(path) if path is not None else {}
    where = str(path) if path is not None else "environment"
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            problems.append(f"  {key}: {err['msg']}")
        raise ConfigError(
            f"{where}: invalid configuration:\n" + "\n".join(problems) + "\nSee the README's configuration keys."
        ) from None
    _register_secrets(settings)
    return settings


def _register_secrets(settings: Settings) -> None:
    """Make every credential the configuration can reach unprintable: connectors' secrets, the database password."""
    for conn in settings.connectors.values():
        conn.secret("password")
        conn.secret("token")
        conn.secret("webhook_secret")
    for secret in url_secrets(settings.database_url):
        register_secret(secret)
    for conn in settings.connectors.values():
        for secret in url_secrets(conn.base_url or ""):
            register_secret(secret)


def masked(settings: Settings) -> dict[str, Any]:
    """The effective configuration as plain data, with credentials shown as set/unset, never their value."""
    data = settings.model_dump(mode="json")
    data["database_url"] = mask_url(data["database_url"])
    for name, conn in settings.connectors.items():
        if conn.base_url:
            data["connectors"][name]["base_url"] = mask_url(conn.base_url)
        for which in ("username", "password", "token", "webhook_secret"):
            var = getattr(conn, f"{which}_env")
            if var:
                data["connectors"][name][f"{which}_env"] = f"{var} ({'set' if conn.secret(which) else 'unset'})"
    return data


def webhook_secret(name: str, settings: ConnectorSettings) -> SecretStr | None:
    """The connector's webhook secret from ``webhook_secret_env``; None when it names no variable, ConfigError
    when the variable it names is unset (webhooks would be refused without saying why)."""
    if not settings.webhook_secret_env:
        return None
    value = settings.secret("webhook_secret")
    if value is None or not value.get_secret_value():
        raise ConfigError(
            f"connector '{name}': the environment variable {settings.webhook_secret_env} (webhook_secret_env) is "
            "not set; export it with the webhook's secret"
        )
    return value
