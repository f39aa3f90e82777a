"""Standard Webhooks signing: the published test vector, verification, and the README's
standard-library snippet run against a real delivery."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path

import pytest

from app.services import webhooks
from app.services.notifications.delivery import deliver_webhook
from app.services.webhooks import WebhookVerificationError, sign, verify
from tests import receivers as r

README = Path(__file__).resolve().parents[2] / "README.md"

# The example of the Standard Webhooks specification's reference libraries.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def _headers(secret: str = VECTOR_SECRET, ts: int = VECTOR_TS) -> dict[str, str]:
    return {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, VECTOR_ID, ts, VECTOR_BODY),
    }


def test_signature_matches_the_standard_webhooks_test_vector():
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE


def test_generated_secrets_are_whsec_base64_of_32_random_bytes():
    a, b = webhooks.generate_secret(), webhooks.generate_secret()
    assert a != b
    assert a.startswith("whsec_")
    assert len(base64.b64decode(a.removeprefix("whsec_"), validate=True)) == 32


def test_verify_accepts_a_genuine_message():
    verify(VECTOR_SECRET, _headers(), VECTOR_BODY, now=VECTOR_TS + 10)


def test_verify_is_case_insensitive_on_header_names():
    headers = {k.upper(): v for k, v in _headers().items()}
    verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TS)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda h, b: (h, b + b" "), id="body"),
        pytest.param(lambda h, b: ({**h, "webhook-id": "msg_other"}, b), id="id"),
        pytest.param(
            lambda h, b: ({**h, "webhook-timestamp": str(VECTOR_TS + 1)}, b), id="timestamp"
        ),
        pytest.param(lambda h, b: ({**h, "webhook-signature": "v1,AAAA"}, b), id="signature"),
        pytest.param(
            lambda h, b: ({**h, "webhook-signature": "v2" + h["webhook-signature"][2:]}, b),
            id="version",
        ),
        pytest.param(
            lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b),
            id="missing-header",
        ),
    ],
)
def test_verify_refuses_anything_tampered_with(tamper):
    headers, body = tamper(_headers(), VECTOR_BODY)
    with pytest.raises(WebhookVerificationError):
        verify(VECTOR_SECRET, headers, body, now=VECTOR_TS)


def test_verify_refuses_another_secret():
    with pytest.raises(WebhookVerificationError):
        verify(webhooks.generate_secret(), _headers(), VECTOR_BODY, now=VECTOR_TS)


def test_verify_refuses_old_and_future_timestamps():
    with pytest.raises(WebhookVerificationError):
        verify(VECTOR_SECRET, _headers(), VECTOR_BODY, now=VECTOR_TS + 301)
    with pytest.raises(WebhookVerificationError):
        verify(VECTOR_SECRET, _headers(), VECTOR_BODY, now=VECTOR_TS - 301)


def test_verify_accepts_any_of_several_signatures_during_a_key_rotation():
    old = webhooks.generate_secret()
    headers = _headers()
    headers["webhook-signature"] = (
        f"{sign(old, VECTOR_ID, VECTOR_TS, VECTOR_BODY)} {headers['webhook-signature']}"
    )
    verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TS)
    verify(old, headers, VECTOR_BODY, now=VECTOR_TS)


def readme_snippet():
    """The `verify_webhook` function from the README's Webhooks section, executed as is."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## Webhooks") :]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    code = next(b for b in blocks if "def verify_webhook" in b)
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["verify_webhook"]


def test_readme_snippet_matches_the_test_vector():
    verify_webhook = readme_snippet()
    now = int(time.time())
    headers = _headers(ts=now)
    assert verify_webhook(VECTOR_SECRET, headers, VECTOR_BODY) is True
    assert verify_webhook(VECTOR_SECRET, headers, VECTOR_BODY + b"x") is False
    assert verify_webhook(webhooks.generate_secret(), headers, VECTOR_BODY) is False
    assert verify_webhook(VECTOR_SECRET, _headers(ts=now - 3600), VECTOR_BODY) is False


@pytest.mark.committed
async def test_readme_snippet_verifies_a_real_delivery(session):
    verify_webhook = readme_snippet()
    async with r.http_receiver() as receiver:
        sub = await r.subscription(session, receiver.url)
        emitted = await r.event(session)
        (delivery_id,) = emitted.webhook_delivery_ids
        async with r.job_ctx() as ctx:
            assert await deliver_webhook(ctx, str(delivery_id)) == "succeeded"
    (request,) = receiver.requests
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == f"msg_{delivery_id.hex}"
    assert verify_webhook(sub.secret, request.headers, request.body) is True
    verify(sub.secret, request.headers, request.body)
    assert verify_webhook(webhooks.generate_secret(), request.headers, request.body) is False

    document = json.loads(request.body)
    assert document["type"] == "consultation.sla_breached"
    data = document["data"]
    assert data["id"] == emitted.event_id
    assert data["kind"] == document["type"]
    assert data["entity_type"] == "consultation"
    assert data["link"].startswith("http://127.0.0.1:8000/consultas/")
    assert data["payload"]["reference"] == "OAAA-2026-000123"
    assert set(data) == {
        "id",
        "kind",
        "title",
        "body",
        "link",
        "entity_type",
        "entity_id",
        "municipality_id",
        "area_id",
        "occurred_at",
        "payload",
    }
