"""Access tokens already verified are remembered until they expire, never beyond."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jose import jwt

from app.core.config import get_settings
from app.core.security import InvalidToken, create_access_token, decode_access_token


def _token(expires_in: timedelta) -> str:
    settings = get_settings()
    lifetime = timedelta(minutes=settings.access_token_minutes)
    token, _ = create_access_token(
        settings,
        subject_kind="user",
        subject_id=uuid.uuid4(),
        role="oaaa_staff",
        now=datetime.now(UTC) - lifetime + expires_in,
    )
    return token


def _count_verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    verify = jwt.decode

    def counted(token: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(token)
        return verify(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counted)  # the module `app.core.security` verifies with
    return calls


def test_a_token_is_verified_once_while_it_is_valid(monkeypatch):
    calls = _count_verifications(monkeypatch)
    token = _token(timedelta(minutes=5))
    first = decode_access_token(get_settings(), token)
    assert decode_access_token(get_settings(), token) == first
    assert calls == [token]
    # Another key: verified again (and refused).
    other = get_settings().model_copy(update={"jwt_issuer": "otro-emisor"})
    with pytest.raises(InvalidToken):
        decode_access_token(other, token)
    assert calls == [token, token]


async def test_a_remembered_token_is_refused_once_it_expires(monkeypatch):
    calls = _count_verifications(monkeypatch)
    token = _token(timedelta(seconds=2))
    decode_access_token(get_settings(), token)
    decode_access_token(get_settings(), token)
    assert len(calls) == 1
    await asyncio.sleep(3.5)  # the verification counts whole seconds
    with pytest.raises(InvalidToken):
        decode_access_token(get_settings(), token)
    assert len(calls) == 2
