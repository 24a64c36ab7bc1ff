"""Every setting of capaflow in one place, read from the environment and validated at start."""

import ipaddress
import os
import re
import secrets
from contextlib import suppress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DATA_DIR = Path(".data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CAPA_", extra="ignore")

    temporal_address: str = Field(
        default="localhost:7233", validation_alias=AliasChoices("TEMPORAL_ADDRESS", "CAPA_TEMPORAL_ADDRESS")
    )
    temporal_namespace: str = Field(
        default="default", validation_alias=AliasChoices("TEMPORAL_NAMESPACE", "CAPA_TEMPORAL_NAMESPACE")
    )
    # TLS to the Temporal frontend: a client certificate and key (mTLS, self-hosted clusters and Temporal Cloud
    # with certificates), an API key (Temporal Cloud; implies TLS), a private CA, or plain server TLS.
    temporal_tls: bool = Field(default=False, validation_alias=AliasChoices("TEMPORAL_TLS", "CAPA_TEMPORAL_TLS"))
    temporal_tls_cert: Path | None = Field(
        default=None, validation_alias=AliasChoices("TEMPORAL_TLS_CERT", "CAPA_TEMPORAL_TLS_CERT")
    )
    temporal_tls_key: Path | None = Field(
        default=None, validation_alias=AliasChoices("TEMPORAL_TLS_KEY", "CAPA_TEMPORAL_TLS_KEY")
    )
    temporal_tls_ca: Path | None = Field(
        default=None, validation_alias=AliasChoices("TEMPORAL_TLS_CA", "CAPA_TEMPORAL_TLS_CA")
    )
    temporal_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TEMPORAL_API_KEY", "CAPA_TEMPORAL_API_KEY")
    )
    task_queue: str = "capaflow"
    database_url: str = f"sqlite:///{DATA_DIR / 'capaflow.db'}"
    policy_file: Path | None = None
    log_format: Literal["console", "json"] = "console"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # The `capa` command line: the HTTP API its commands for people go through, the directory keeping its sign-ins
    # (default ~/.config/capaflow), and an API token that acts instead of a stored sign-in.
    api_url: str = "http://127.0.0.1:8000"
    config_dir: Path | None = None
    token: SecretStr | None = None

    # Observability: the worker's Prometheus endpoint (0 turns it off), how often it recounts the read model
    # for the gauges, and the OpenTelemetry collector that receives traces (tracing is off without it).
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    # The address both Prometheus endpoints (worker and API) listen on: loopback unless a scraper elsewhere needs it.
    metrics_host: str = "127.0.0.1"
    metrics_interval: float = Field(default=15.0, gt=0, le=3600)
    otel_endpoint: str | None = None

    # Notifications: e-mail is on when smtp_host is set, webhooks when webhook_urls is.
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "capaflow@localhost"
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # NoDecode: the variable is a comma-separated list, not the JSON pydantic-settings expects for lists.
    webhook_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    webhook_secret: SecretStr | None = None
    base_url: str = "http://127.0.0.1:8000"
    digest_time: str = "07:00"
    digest_timezone: str = "UTC"
    notify_max_attempts: int = Field(default=8, ge=1, le=100)

    # The HTTP API and web app (`capa api`). The secret key signs session and CSRF cookies: set it, the same on
    # every API process, in production; unset, one is made once and kept in .data/secret-key.
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    secret_key: SecretStr | None = None
    # Where people open the Temporal UI, for the record page's link to the workflow (empty: no link).
    temporal_ui_url: str = "http://127.0.0.1:8233"
    # The API process's Prometheus endpoint (the SDK's client metrics and capaflow's HTTP metrics); 0 turns it off.
    api_metrics_port: int = Field(default=9465, ge=0, le=65535)
    # How often the overdue board reloads itself, in seconds.
    board_refresh: int = Field(default=30, ge=2, le=3600)
    # How long a front end waits for the workers to apply a step before answering that it is pending, in seconds.
    step_wait: float = Field(default=20.0, ge=1, le=600)
    # Evidence files: stored by their SHA-256 under this directory (a volume in docker-compose), never removed; a
    # file larger than max_file_mb megabytes is refused while it streams in.
    files_dir: Path = DATA_DIR / "files"
    max_file_mb: int = Field(default=25, ge=1, le=1024)
    # The default site, made at the first start that needs it: records and people with no site of their own
    # belong to it, and its zone is the one times are shown in for them. Once made, `capa sites` keeps it.
    site_name: str = Field(default="Main site", min_length=1, max_length=80)
    site_time_zone: str = "UTC"

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("use a sqlite:/// or postgresql:// URL")
        return value

    @field_validator("metrics_host")
    @classmethod
    def _an_address(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError("an IP address to listen on, such as 127.0.0.1 or 0.0.0.0") from None
        return value

    @field_validator("policy_file", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator(
        "smtp_host",
        "smtp_username",
        "smtp_password",
        "webhook_secret",
        "temporal_tls_cert",
        "temporal_tls_key",
        "temporal_tls_ca",
        "temporal_api_key",
        "otel_endpoint",
        "secret_key",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("webhook_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return [url.strip() for url in value.split(",") if url.strip()]
        return value

    @field_validator("webhook_urls")
    @classmethod
    def _http_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"{url!r} is not an http:// or https:// URL")
        return list(dict.fromkeys(urls))

    @field_validator("temporal_tls_cert", "temporal_tls_key", "temporal_tls_ca")
    @classmethod
    def _readable_file(cls, path: Path | None) -> Path | None:
        if path is not None and not path.is_file():
            raise ValueError(f"{str(path)!r} is not a file")
        return path

    @field_validator("otel_endpoint")
    @classmethod
    def _otlp_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an http:// or https:// URL, e.g. http://otel-collector:4318")
        return value

    @field_validator("config_dir", "token", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("base_url", "api_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("secret_key")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("at least 32 characters; e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`")
        return value

    @field_validator("digest_time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
        if match is None or int(match[1]) > 23 or int(match[2]) > 59:
            raise ValueError(f"{value!r} is not a time of day written HH:MM, e.g. 07:00")
        return f"{int(match[1]):02d}:{match[2]}"

    @field_validator("digest_timezone", "site_time_zone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known time zone, e.g. Europe/Berlin or UTC") from None
        return value

    @model_validator(mode="after")
    def _webhooks_are_signed(self) -> "Settings":
        if self.webhook_urls and self.webhook_secret is None:
            raise ValueError(
                "CAPA_WEBHOOK_SECRET: required when CAPA_WEBHOOK_URLS is set; every webhook is signed with it"
            )
        return self

    @model_validator(mode="after")
    def _certificate_with_key(self) -> "Settings":
        if (self.temporal_tls_cert is None) != (self.temporal_tls_key is None):
            given, missing = (
                ("TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY")
                if self.temporal_tls_key is None
                else ("TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CERT")
            )
            raise ValueError(f"{missing}: required when {given} is set; the client certificate and key go together")
        return self

    @property
    def temporal_uses_tls(self) -> bool:
        """TLS to Temporal: asked for, or implied by a client certificate, a CA or an API key."""
        return self.temporal_tls or any(
            value is not None for value in (self.temporal_tls_cert, self.temporal_tls_ca, self.temporal_api_key)
        )

    @property
    def email_enabled(self) -> bool:
        return self.smtp_host is not None

    def record_link(self, record_id: str) -> str:
        """The record's page, for links in e-mails and webhook bodies."""
        return f"{self.base_url}/records/{record_id}"

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_mb * 1024 * 1024

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over HTTPS when the site is served over HTTPS (CAPA_BASE_URL)."""
        return self.base_url.startswith("https://")

    def session_secret(self) -> str:
        """CAPA_SECRET_KEY, or a key made once for this installation and kept beside its data."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = DATA_DIR / "secret-key"
        if not path.exists():
            DATA_DIR.mkdir(parents=True, exist_ok=True)
            # Written whole under a name of its own, then linked into place: a process starting at the same moment
            # finds no key or the whole key, never an empty file; the first link wins, the other key is dropped.
            draft = DATA_DIR / f"secret-key.{os.getpid()}.{secrets.token_hex(4)}"
            draft.write_text(secrets.token_hex(32))
            draft.chmod(0o600)
            with suppress(FileExistsError):
                os.link(draft, path)
            draft.unlink()
        return path.read_text().strip()

    @property
    def sqlalchemy_url(self) -> str:
        """The URL with the psycopg 3 driver named, so plain ``postgresql://`` URLs work."""
        for prefix in ("postgresql://", "postgres://"):
            if self.database_url.startswith(prefix):
                return "postgresql+psycopg://" + self.database_url.removeprefix(prefix)
        return self.database_url


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the environment variable."""


# Settings read from the Temporal CLI's own variable names (TEMPORAL_*), not CAPA_*.
_ENV_NAMES = {
    name: name.upper()
    for name in (
        "temporal_address",
        "temporal_namespace",
        "temporal_tls",
        "temporal_tls_cert",
        "temporal_tls_key",
        "temporal_tls_ca",
        "temporal_api_key",
    )
}


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        if not first["loc"]:
            # A check across several settings names its variables in the message itself.
            raise SettingsError(message) from exc
        field = str(first["loc"][0])
        # An aliased field reports the variable it was read from (TEMPORAL_TLS_CERT), already upper case.
        env = field if field.isupper() else _ENV_NAMES.get(field, f"CAPA_{field.upper()}")
        raise SettingsError(f"{env}: {message}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
