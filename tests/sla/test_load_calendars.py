"""The calendars of several municipalities read at once are the ones read one by one."""

from __future__ import annotations

from datetime import UTC, date, datetime

from app.models.sla import Holiday
from app.services.sla import clock
from tests import factories as f


async def test_calendars_read_together_equal_calendars_read_one_by_one(session):
    almendralejo = await f.municipality(session, "06011")
    badajoz = await f.municipality(session, "06015")
    merida = await f.municipality(session, "06083")
    session.add_all(
        [
            # Province-wide: a date added, an official one removed.
            Holiday(day=date(2026, 3, 16), name="Día añadido"),
            Holiday(day=date(2026, 9, 8), name="Día de Extremadura trasladado", is_holiday=False),
            # Local holidays, one on the date the province removed (the removal wins).
            Holiday(municipality_id=almendralejo.id, day=date(2026, 8, 17), name="Fiesta local"),
            Holiday(municipality_id=almendralejo.id, day=date(2026, 9, 8), name="Coincide"),
            # A municipality's own correction removes an official date for it alone.
            Holiday(
                municipality_id=badajoz.id,
                day=date(2026, 12, 8),
                name="Inmaculada trabajada",
                is_holiday=False,
            ),
        ]
    )
    await session.flush()
    years = clock.calendar_years(datetime(2026, 6, 1, tzinfo=UTC))
    ids = [almendralejo.id, badajoz.id, merida.id]
    together = await clock.load_calendars(session, ids, years)
    assert set(together) == set(ids)
    for mid in ids:
        alone = await clock.load_calendar(session, mid, years)
        assert together[mid] == alone
    assert date(2026, 8, 17) in together[almendralejo.id].holidays
    assert date(2026, 8, 17) not in together[merida.id].holidays
    assert date(2026, 12, 8) not in together[badajoz.id].holidays
    assert date(2026, 12, 8) in together[merida.id].holidays
    assert date(2026, 9, 8) not in together[almendralejo.id].holidays
    assert date(2026, 3, 16) in together[merida.id].holidays
    assert await clock.load_calendars(session, [], years) == {}
