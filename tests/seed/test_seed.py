"""Demo data: idempotent, on real municipalities, with a working account per role."""

from __future__ import annotations

from sqlalchemy import text

from app.seed.demo import DEMO_ACCOUNTS, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, seed
from tests import factories as f


async def test_seed_is_idempotent(session):
    first = await seed(session)
    await session.commit()
    second = await seed(session)
    await session.commit()
    assert len(first) > 30
    assert second == []
    users = (await session.execute(text("SELECT count(*) FROM user_account"))).scalar_one()
    assert users == len(DEMO_ACCOUNTS)


async def test_every_demo_account_logs_in_with_its_role(client, session):
    await seed(session)
    await session.commit()
    for account in DEMO_ACCOUNTS:
        tokens = await f.login(client, account.email, account.password)
        me = await client.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert me.json()["role"] == account.role
    r = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        },
    )
    assert r.status_code == 200


async def test_demo_municipal_user_cannot_see_the_other_municipality(client, session):
    await seed(session)
    await session.commit()
    almendralejo, merida = (a for a in DEMO_ACCOUNTS if a.municipality_ine)
    a_tokens = await f.login(client, almendralejo.email, almendralejo.password)
    headers = {"Authorization": f"Bearer {a_tokens['access_token']}"}
    listed = (await client.get("/api/v1/users", headers=headers)).json()["items"]
    assert [u["email"] for u in listed] == [almendralejo.email]
    merida_id = (
        await session.execute(
            text("SELECT id FROM user_account WHERE email = :e"), {"e": merida.email}
        )
    ).scalar_one()
    r = await client.get(f"/api/v1/users/{merida_id}", headers=headers)
    assert r.status_code == 404


async def test_elms_hang_from_their_parent_municipality(session):
    await seed(session)
    await session.commit()
    rows = (
        await session.execute(
            text(
                "SELECT e.name, p.ine_code FROM municipality e JOIN municipality p"
                " ON p.id = e.parent_id WHERE e.kind = 'elm' ORDER BY e.name"
            )
        )
    ).all()
    assert [r[1] for r in rows] == ["06015"] * 4
    assert rows[0][0] == "Gévora"
