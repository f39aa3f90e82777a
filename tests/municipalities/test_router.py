"""Public reference data: the 165 municipalities, searchable and paginated by cursor."""

from __future__ import annotations


async def test_all_municipalities_page_through_without_gaps_or_repeats(client):
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 40} | ({"cursor": cursor} if cursor else {})
        body = (await client.get("/api/v1/municipalities", params=params)).json()
        seen += [m["ine_code"] for m in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 5
    assert len(seen) == len(set(seen)) == 165


async def test_search_ignores_accents_and_case(client):
    body = (await client.get("/api/v1/municipalities", params={"q": "MERIDA"})).json()
    names = [m["name"] for m in body["items"]]
    assert "Mérida" in names
    assert all("rida" in n for n in names)


async def test_search_by_ine_code(client):
    body = (await client.get("/api/v1/municipalities", params={"q": "06015"})).json()
    assert [m["name"] for m in body["items"]] == ["Badajoz"]


async def test_municipality_detail_is_public(client):
    listed = (await client.get("/api/v1/municipalities", params={"q": "06083"})).json()
    m = listed["items"][0]
    detail = await client.get(f"/api/v1/municipalities/{m['id']}")
    assert detail.status_code == 200
    assert detail.json()["population"] == 59857
    assert detail.json()["kind"] == "municipality"
