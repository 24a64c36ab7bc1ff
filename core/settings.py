"""Every setting of capaflow in one place, read from the environment and validated at start."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DATA_DIR = Path(".data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CAPA_", extra="ignore")

    temporal_address: str = Field(
        default="localhost:7233", validation_alias=AliasChoices("TEMPORAL_ADDRESS", "CAPA_TEMPORAL_ADDRESS")
    )
    temporal_namespace: str = Field(
        default="default", validation_alias=AliasChoices("TEMPORAL_NAMESPACE", "CAPA_TEMPORAL_NAMESPACE")
    )
    task_queue: str = "capaflow"
    database_url: str = f"sqlite:///{DATA_DIR / 'capaflow.db'}"
    policy_file: Path | None = None
    log_format: Literal["console", "json"] = "console"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    user: str | None = None

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("use a sqlite:/// or postgresql:// URL")
        return value

    @field_validator("policy_file", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def sqlalchemy_url(self) -> str:
        """The URL with the psycopg 3 driver named, so plain ``postgresql://`` URLs work."""
        for prefix in ("postgresql://", "postgres://"):
            if self.database_url.startswith(prefix):
                return "postgresql+psycopg://" + self.database_url.removeprefix(prefix)
        return self.database_url


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the environment variable."""


_ENV_NAMES = {"temporal_address": "TEMPORAL_ADDRESS", "temporal_namespace": "TEMPORAL_NAMESPACE"}


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        env = _ENV_NAMES.get(field, f"CAPA_{field.upper()}")
        raise SettingsError(f"{env}: {first['msg'].removeprefix('Value error, ')}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
