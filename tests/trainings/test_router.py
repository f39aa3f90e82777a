"""Training actions: CRUD, attendance scoping and the CSV import with a per-row report."""

from __future__ import annotations

from sqlalchemy import text

from app.models.base import Role
from tests import factories as f
from tests.factories import assert_problem

URL = "/api/v1/trainings"


async def _setup(client, session):
    fomento = await f.area(session, "fomento")
    alm = await f.municipality(session, "06011")
    mer = await f.municipality(session, "06083")
    people = {
        "office": await f.user(session, Role.oaaa_staff),
        "fomento": await f.user(session, Role.area_staff, area_id=fomento.id),
        "alm": await f.user(session, Role.municipal_user, municipality_id=alm.id),
        "mer": await f.user(session, Role.municipal_user, municipality_id=mer.id),
    }
    headers = {k: await f.auth_headers(client, u) for k, u in people.items()}
    body = {
        "title": "Contratación pública para municipios",
        "audience": "Secretarías e intervenciones",
        "modality": "hybrid",
        "hours": "10",
        "starts_on": "2026-12-01",
        "sessions": [
            {"starts_at": "2026-12-01T09:00:00+01:00", "ends_at": "2026-12-01T14:00:00+01:00"},
            {"starts_at": "2026-12-02T09:00:00+01:00", "ends_at": "2026-12-02T14:00:00+01:00"},
        ],
    }
    r = await client.post(URL, json=body, headers=headers["fomento"])
    assert r.status_code == 201, r.text
    return r.json(), {"fomento": fomento, "alm": alm, "mer": mer}, headers


async def test_crud_and_public_reading(client, session):
    t, places, h = await _setup(client, session)
    assert t["area_id"] == str(places["fomento"].id)
    assert len(t["sessions"]) == 2
    assert (await client.get(f"{URL}/{t['id']}")).status_code == 200
    assert [x["id"] for x in (await client.get(URL)).json()["items"]] == [t["id"]]
    r = await client.patch(
        f"{URL}/{t['id']}", json={"hours": "12.5", "sessions": []}, headers=h["fomento"]
    )
    assert r.status_code == 200, r.text
    assert float(r.json()["hours"]) == 12.5
    assert r.json()["sessions"] == []
    assert_problem(
        await client.patch(f"{URL}/{t['id']}", json={"title": "X y"}, headers=h["alm"]), 403
    )
    assert_problem(await client.post(URL, json={"title": "abc"}, headers=h["alm"]), 422)
    bad = {"title": "Curso", "audience": "Todos", "modality": "radio", "hours": "1"}
    assert_problem(await client.post(URL, json=bad, headers=h["office"]), 422)
    assert_problem(await client.delete(f"{URL}/{t['id']}", headers=h["alm"]), 403)
    assert (await client.delete(f"{URL}/{t['id']}", headers=h["office"])).status_code == 204
    assert_problem(await client.get(f"{URL}/{t['id']}"), 404)


async def test_attendance_scoping(client, session):
    t, places, h = await _setup(client, session)
    for place, role in (("alm", "Alcaldía"), ("mer", "Secretaría")):
        r = await client.post(
            f"{URL}/{t['id']}/attendance",
            json={"municipality_id": str(places[place].id), "role": role, "attended_hours": "8"},
            headers=h["fomento"],
        )
        assert r.status_code == 201, r.text
    over = {"municipality_id": str(places["alm"].id), "role": "Alcaldía", "attended_hours": "11"}
    assert_problem(
        await client.post(f"{URL}/{t['id']}/attendance", json=over, headers=h["fomento"]), 422
    )
    assert_problem(
        await client.post(
            f"{URL}/{t['id']}/attendance", json=over | {"attended_hours": "1"}, headers=h["alm"]
        ),
        403,
    )
    staff = (await client.get(f"{URL}/{t['id']}/attendance", headers=h["fomento"])).json()
    assert len(staff["items"]) == 2
    mine = (await client.get(f"{URL}/{t['id']}/attendance", headers=h["alm"])).json()
    assert [i["municipality_id"] for i in mine["items"]] == [str(places["alm"].id)]
    assert_problem(await client.get(f"{URL}/{t['id']}/attendance"), 401)


async def test_csv_import_reports_bad_rows_and_imports_good_ones(client, session):
    t, places, h = await _setup(client, session)
    csv_text = (
        "ine_code,role,attended_hours,name\n"
        "06011,Alcaldía,10,Ana Pérez\n"  # line 2: good
        "99999,Secretaría,4,\n"  # line 3: unknown INE code
        "06083,Secretaría,12,Luis\n"  # line 4: more hours than the action's
        "06083,,4,Sin cargo\n"  # line 5: missing role
        '06083,Intervención,"2,5",\n'  # line 6: good (decimal comma)
        "06011,Concejalía,muchas,\n"  # line 7: hours not a number
    )
    r = await client.post(
        f"{URL}/{t['id']}/attendance/import",
        content=csv_text.encode(),
        headers={**h["fomento"], "content-type": "text/csv; charset=utf-8"},
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["imported"] == 2
    assert report["failed"] == 4
    by_row = {row["row"]: row for row in report["rows"]}
    assert by_row[2]["status"] == "imported"
    assert by_row[6]["status"] == "imported"
    assert by_row[3]["status"] == "error"
    assert "INE" in by_row[3]["errors"][0]
    assert "superan" in by_row[4]["errors"][0]
    assert "cargo" in by_row[5]["errors"][0]
    assert by_row[7]["status"] == "error"
    rows = (
        await session.execute(
            text("SELECT role, attended_hours FROM training_attendance ORDER BY role")
        )
    ).all()
    assert [(r_[0], str(r_[1])) for r_ in rows] == [("Alcaldía", "10.00"), ("Intervención", "2.50")]

    # Multipart upload works too.
    r = await client.post(
        f"{URL}/{t['id']}/attendance/import",
        files={"file": ("asistentes.csv", b"ine_code,role,attended_hours\n06083,Alcaldia,1\n")},
        headers=h["fomento"],
    )
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == 1


async def test_csv_import_whole_file_refusals(client, session):
    t, places, h = await _setup(client, session)
    url = f"{URL}/{t['id']}/attendance/import"
    csv_headers = {**h["fomento"], "content-type": "text/csv"}
    assert_problem(
        await client.post(
            url,
            content=b"06011,x,1",
            headers={**h["fomento"], "content-type": "application/json"},
        ),
        415,
    )
    assert_problem(await client.post(url, content=b"ine_code,role\xff\n", headers=csv_headers), 422)
    assert_problem(await client.post(url, content=b"nombre,cargo\n", headers=csv_headers), 422)
    big = "ine_code,role,attended_hours\n" + "06011,A,1\n" * 5001
    assert_problem(await client.post(url, content=big.encode(), headers=csv_headers), 413)
    assert_problem(
        await client.post(
            url,
            content=b"ine_code,role,attended_hours\n06011,A,1\n",
            headers={**h["alm"], "content-type": "text/csv"},
        ),
        403,
    )
    count = (await session.execute(text("SELECT count(*) FROM training_attendance"))).scalar_one()
    assert count == 0
