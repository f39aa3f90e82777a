"""Settings refuse placeholder secrets outside local and test environments."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.core.config import PLACEHOLDER_SECRET, Settings


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_placeholder_secret_is_refused_outside_local(environment: str) -> None:
    with pytest.raises(ValidationError, match="OAAA_JWT_SECRET"):
        Settings(environment=environment, jwt_secret=PLACEHOLDER_SECRET)


def test_short_secret_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="OAAA_JWT_SECRET"):
        Settings(environment="production", jwt_secret="short")


def test_real_secret_is_accepted_in_production() -> None:
    settings = Settings(environment="production", jwt_secret="r" * 48)
    assert settings.jwt_secret.get_secret_value() == "r" * 48


def test_plain_database_url_variable_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OAAA_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@db.example:5432/x")
    assert Settings().database_url == "postgresql+asyncpg://u@db.example:5432/x"


def test_secret_is_not_shown_in_repr() -> None:
    settings = Settings(environment="test", jwt_secret="supersecretvalue" * 3)
    assert "supersecretvalue" not in repr(settings)


def test_webhook_allowed_hosts_are_read_as_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ipaddress import ip_address

    from app.core.netguard import parse_allow_list

    monkeypatch.setenv("OAAA_WEBHOOK_ALLOWED_HOSTS", "Hooks.Dip.Internal, 10.0.0.5,[fd00::1],")
    allowed = parse_allow_list(Settings().webhook_allowed_hosts)
    assert allowed.names == {"hooks.dip.internal"}
    assert allowed.addresses == {ip_address("10.0.0.5"), ip_address("fd00::1")}


def test_a_negative_secret_overlap_is_refused() -> None:
    with pytest.raises(ValidationError, match="webhook_secret_overlap_hours"):
        Settings(webhook_secret_overlap_hours=-1)


def test_webhooks_require_https_outside_local_and_test() -> None:
    assert not Settings(environment="test").webhooks_require_https
    production = Settings(environment="production", jwt_secret="r" * 48)
    assert production.webhooks_require_https
