"""The worker's monthly aggregates give exactly the figures of the live definitions, and the
refresh job keeps them current."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.services.indicators import periods
from app.services.indicators.catalogue import CATALOGUE
from app.services.indicators.computation import compute, query_for, uses_rollup
from app.services.indicators.refresh import refresh, refresh_indicators, refreshed_at
from tests.indicators.dataset import YEAR, _consultation, at, build

ROLLED = [i for i in CATALOGUE if i.rollup is not None]


@pytest.mark.parametrize("indicator", ROLLED, ids=[i.id for i in ROLLED])
@pytest.mark.parametrize("period", [str(YEAR), f"{YEAR}-Q1", f"{YEAR}-07", str(YEAR - 1)])
async def test_aggregates_equal_the_live_definition(session, indicator, period):
    await build(session)
    when = periods.parse(period, None, None)
    assert uses_rollup(indicator, when)
    for dim in (None, *indicator.dimensions):
        rolled = await compute(session, indicator, when, dim)
        live = await compute(session, indicator, when, dim, live=True)
        assert rolled.total == live.total, (dim, rolled.total, live.total)
        key = lambda c: c.key  # noqa: E731
        assert sorted(rolled.breakdown, key=key) == sorted(live.breakdown, key=key), dim


async def test_custom_ranges_are_live(session):
    d = await build(session)
    when = periods.parse(None, at(1, 1).date(), at(12, 31).date())
    consultations = next(i for i in CATALOGUE if i.id == "oaaa-16-7-consultas")
    assert not uses_rollup(consultations, when)
    session.add(_consultation(d.badajoz, "web", at(11, 5)))
    await session.commit()
    assert (await compute(session, consultations, when, None)).total.values["consultas"] == 11
    # The aggregates only see it after the next refresh.
    year = periods.year(YEAR)
    assert (await compute(session, consultations, year, None)).total.values["consultas"] == 10
    before = await refreshed_at(session)
    assert await refresh(session) >= before
    assert (await compute(session, consultations, year, None)).total.values["consultas"] == 11


async def test_refresh_job(sessions, session):
    d = await build(session)
    monthly = text("SELECT sum(n) FROM indicator_consultation_month WHERE dim = 'channel'")
    before = (await session.execute(monthly)).scalar_one()
    session.add(_consultation(d.merida, "phone", at(12, 1)))
    await session.commit()
    assert (await session.execute(monthly)).scalar_one() == before
    result = await refresh_indicators({"sessionmaker": sessions})
    assert result.startswith("20")
    after = (await session.execute(monthly)).scalar_one()
    assert after == before + 1
    assert after == (await session.execute(text("SELECT count(*) FROM consultation"))).scalar_one()


@pytest.mark.parametrize(
    ("values", "weights", "expected"),
    [
        ([2, 4, 10], [1, 1, 1], 4),
        ([2, 4], [1, 1], 3),
        ([1, 3], [3, 1], 1),
        ([1, 3], [2, 2], 2),
        ([5, None], [2, 7], 5),
        ([None], [3], None),
        ([7, 1, 7], [1, 2, 1], 4),
    ],
    ids=["odd", "even", "weighted", "tie", "null-values", "none", "unsorted"],
)
async def test_weighted_median_matches_percentile_cont(session, values, weights, expected):
    got = (
        await session.execute(
            text("SELECT oaaa_weighted_median(CAST(:v AS integer[]), CAST(:w AS bigint[]))"),
            {"v": values, "w": weights},
        )
    ).scalar_one()
    expanded = [v for v, w in zip(values, weights, strict=True) if v is not None for _ in range(w)]
    reference = (
        await session.execute(
            text(
                "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x)"
                " FROM unnest(CAST(:x AS integer[])) x"
            ),
            {"x": expanded},
        )
    ).scalar_one()
    assert (None if got is None else float(got)) == expected
    assert (None if reference is None else float(reference)) == expected


def test_the_published_queries_are_the_ones_that_run():
    for ind in ROLLED:
        assert "indicator_" in query_for(ind, None, rollup=True)
        assert "indicator_" not in query_for(ind, None)
