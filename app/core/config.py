"""Application settings: one pydantic-settings class, read from the environment and `.env`."""

from __future__ import annotations

import ipaddress
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
    redis_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="Espera máxima a Redis al conectar y en cada respuesta (luego, caído)",
    )
    db_pool_size: int = 10
    write_concurrency: int = Field(
        default=1,
        ge=0,
        le=1000,
        description=(
            "Escrituras a la vez en cada proceso de la API (las demás esperan su turno; las "
            "lecturas nunca); 0: sin límite"
        ),
    )
    db_echo: bool = False
    db_ping_after_idle_seconds: float = Field(default=30.0, ge=0)
    caller_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description=(
            "Cuánto recuerda cada proceso la fila de quien llama (cuenta activa, perfil, ámbito) "
            "antes de volver a leerla; 0: se lee en cada petición"
        ),
    )

    host: str = "127.0.0.1"
    port: int = 8000
    # Empty: derived from host and port (a wildcard host is reached as 127.0.0.1).
    public_base_url: str = ""
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated addresses
    # or networks, `*` for any). Empty: the TCP peer is the client and those headers are ignored.
    forwarded_allow_ips: str = Field(
        default="",
        validation_alias=AliasChoices("OAAA_FORWARDED_ALLOW_IPS", "FORWARDED_ALLOW_IPS"),
    )
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
    # A rotated refresh token presented again this soon, by the same user agent, with its
    # successor never used, is an answer lost in a reload: a new pair, not a theft.
    refresh_reuse_grace_seconds: int = Field(default=10, ge=0, le=60)
    # None: Secure cookies everywhere except local runs over plain http.
    refresh_cookie_secure: bool | None = None

    office_hours: str = Field(
        default="08:00-15:00", description="Horario de oficina para plazos en horas hábiles"
    )
    seat_municipality_ine: str = Field(
        default="06015",
        pattern=r"^06[0-9]{3}$",
        description="Código INE del municipio sede del órgano (art. 30.6 Ley 39/2015)",
    )
    public_tracking_max_per_ip: int = 30
    public_tracking_window_seconds: int = 600
    # Wrong codes one address may try on one reference before each further try waits: 2 s,
    # then doubling up to the maximum. Nobody else's failures ever delay a right code.
    public_tracking_free_failures: int = Field(default=3, ge=0, le=100)
    public_tracking_max_delay_seconds: int = Field(default=3600, ge=1, le=86400)

    sla_scan_seconds: int = Field(
        default=60, ge=1, le=60, description="Cada cuántos segundos busca el worker plazos"
    )
    indicators_refresh_minutes: int = Field(
        default=5,
        ge=1,
        le=60,
        description="Cada cuántos minutos recalcula el worker los agregados de los indicadores",
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
    webhook_concurrency: int = Field(
        default=20, ge=1, description="Peticiones de webhook simultáneas por worker"
    )
    webhook_destination_concurrency: int = Field(
        default=10,
        ge=1,
        description="Peticiones de webhook simultáneas por worker a un mismo destino",
    )
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

    lock_wait_seconds: float = Field(
        default=2.0,
        gt=0,
        le=30,
        description=(
            "Cuánto espera una transición a que un trabajo en segundo plano suelte la fila "
            "antes de responder 409"
        ),
    )

    @model_validator(mode="after")
    def _derive_public_base_url(self) -> Settings:
        if not self.public_base_url.strip():
            host = self.host.strip() or "127.0.0.1"
            if host in ("0.0.0.0", "::", "[::]"):  # noqa: S104 - naming a wildcard, not binding
                host = "127.0.0.1"
            elif ":" in host and not host.startswith("["):
                host = f"[{host}]"
            self.public_base_url = f"http://{host}:{self.port}"
        self.public_base_url = self.public_base_url.strip().rstrip("/")
        return self

    @property
    def trusted_proxies(self) -> list[str]:
        return [p.strip() for p in self.forwarded_allow_ips.split(",") if p.strip()]

    @model_validator(mode="after")
    def _check_trusted_proxies(self) -> Settings:
        for item in self.trusted_proxies:
            if item == "*":
                continue
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"OAAA_FORWARDED_ALLOW_IPS: {item!r} is not an IP address or network"
                ) from exc
        return self

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
