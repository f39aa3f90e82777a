"""Application settings: one pydantic-settings class, read from the environment and `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me-local-only-secret-key-0123456789"  # noqa: S105

Environment = Literal["local", "test", "staging", "production"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OAAA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Environment = "local"
    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/oaaa",
        validation_alias=AliasChoices("OAAA_DATABASE_URL", "DATABASE_URL"),
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("OAAA_REDIS_URL", "REDIS_URL"),
    )
    redis_prefix: str = "oaaa:"
    db_pool_size: int = 10
    db_echo: bool = False
    db_ping_after_idle_seconds: float = Field(default=30.0, ge=0)

    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"
    cors_origins: list[str] = ["http://127.0.0.1:5173", "http://localhost:5173"]
    max_body_bytes: int = 1_048_576
    frontend_dist: Path | None = Field(
        default=None, description="Carpeta con la aplicación web compilada, servida en /"
    )
    log_level: str = "INFO"

    jwt_secret: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    jwt_issuer: str = "oaaa-diputacion-badajoz"
    jwt_audience: str = "oaaa-api"
    access_token_minutes: int = 15
    refresh_token_days: int = 14
    # None: Secure cookies everywhere except local runs over plain http.
    refresh_cookie_secure: bool | None = None

    office_hours: str = Field(
        default="08:00-15:00", description="Horario de oficina para plazos en horas hábiles"
    )
    public_tracking_max_per_ip: int = 30
    public_tracking_window_seconds: int = 600
    public_tracking_max_failures_per_reference: int = 10

    sla_scan_seconds: int = Field(
        default=60, ge=1, le=60, description="Cada cuántos segundos busca el worker plazos"
    )

    email_enabled: bool = False
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_use_tls: bool = False
    smtp_timeout_seconds: float = 10.0
    email_from: str = "Oficina de Atención a Alcaldes <oaaa@dip-badajoz.es>"

    webhook_timeout_seconds: float = 10.0
    webhook_concurrency: int = 20
    # Comma-separated hosts or IP addresses that webhooks may reach even though they are
    # internal (loopback, private, link-local...). Empty: only public destinations.
    webhook_allowed_hosts: str = ""
    webhook_secret_overlap_hours: float = Field(
        default=24,
        ge=0,
        le=24 * 30,
        description="Horas durante las que el secreto anterior sigue firmando tras una rotación",
    )

    # `/metrics`: open to loopback clients (unless disabled) and to this bearer token.
    metrics_token: SecretStr | None = None
    metrics_allow_loopback: bool = True

    login_max_failures_per_account: int = 5
    login_max_failures_per_ip: int = 20
    login_window_seconds: int = 900

    # Webhook and e-mail delivery engine (app/services/notifications/delivery.py).
    delivery_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Cuánto tiempo reserva un worker una entrega antes de que otro la reintente",
    )
    delivery_sweep_seconds: int = Field(
        default=30, ge=1, le=60, description="Cada cuántos segundos se encolan entregas vencidas"
    )

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.environment not in ("local", "test"):
            secret = self.jwt_secret.get_secret_value()
            if secret == PLACEHOLDER_SECRET or len(secret) < 32:
                raise ValueError(
                    "OAAA_JWT_SECRET must be set to a random value of at least 32 characters "
                    f"outside local/test environments (environment={self.environment})"
                )
        return self

    @property
    def webhooks_require_https(self) -> bool:
        return self.environment not in ("local", "test")

    @property
    def secure_cookies(self) -> bool:
        if self.refresh_cookie_secure is not None:
            return self.refresh_cookie_secure
        return self.environment not in ("local", "test")


@lru_cache
def get_settings() -> Settings:
    return Settings()
