"""Applying a large import leaves the event loop free: every CPU-heavy step runs off it or in batches."""

from __future__ import annotations

from backend.registry import importer, imports, reference
from backend.registry.models import Organization, QrCodeVersion
from tests.loopwatch import LoopWatch
from tests.registry.fixtures_import import CN_HEADER, csv_bytes, many_rows

ROWS = 5000
# The loop's own CPU in any one step. Building 5,000 organizations, their audit entries and codes on
# the loop is several times this; a batch of 500 writes is a small part of it.
LONGEST_STEP_SECONDS = 0.12


async def test_applying_a_large_import_never_holds_the_loop_for_long(db, cache, cipher):
    await reference.load_authorities()
    parsed = importer.parse_bytes(csv_bytes([CN_HEADER, *many_rows(ROWS)]), filename="big.csv")
    async with LoopWatch() as watch:
        result = await imports.apply_import(parsed=parsed, actor=None, apply=True, cipher=cipher, cache=cache)
    assert result.applied and result.created == ROWS, result.report()["errors"][:3]
    assert await Organization.all().count() == await QrCodeVersion.all().count() == ROWS
    assert watch.turns > ROWS // imports.BATCH  # the loop came back between the batches
    assert watch.longest_step < LONGEST_STEP_SECONDS, (watch.longest_step, watch.longest_wait)
