"""An import through the API is parsed off the event loop, within limits, and reports briefly."""

from __future__ import annotations

import asyncio
import io
import zipfile

import httpx
import pytest

from backend.accounts import service as accounts_service
from backend.accounts.models import User
from backend.registry import importer
from tests.conftest import error_code, login
from tests.factories import make_authority
from tests.loopwatch import LoopWatch
from tests.registry.fixtures_import import CN_HEADER, bad_check, csv_bytes, many_rows, write_xlsx

LONGEST_STEP_SECONDS = 0.1  # of the loop's own CPU, in any one step while an import runs


async def _officer(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    headers = await login(client, name)
    user = await User.get(id=(await client.get("/api/v1/me", headers=headers)).json()["id"])
    await accounts_service.grant_officer(user=user, authority=await make_authority("440305"), actor=None)
    return headers


async def _admin(client: httpx.AsyncClient, name: str, cache) -> dict[str, str]:
    headers = await login(client, name)
    user = await User.get(id=(await client.get("/api/v1/me", headers=headers)).json()["id"])
    await accounts_service.grant_admin(user=user, actor=None, cache=cache)
    return headers


def test_rows_beyond_the_limit_refuse_the_file():
    limits = importer.ImportLimits(max_rows=3)
    assert (
        len(importer.parse_bytes(csv_bytes([CN_HEADER, *many_rows(3)]), filename="a.csv", limits=limits).rows)
        == 3
    )
    with pytest.raises(importer.ImportTooManyRows) as caught:
        importer.parse_bytes(csv_bytes([CN_HEADER, *many_rows(4)]), filename="a.csv", limits=limits)
    assert caught.value.status == 413


def test_an_xlsx_too_large_once_decompressed_is_refused_before_it_is_read(tmp_path):
    data = write_xlsx(tmp_path, [CN_HEADER, *many_rows(50)]).read_bytes()
    assert len(importer.parse_bytes(data, filename="a.xlsx").rows) == 50
    small = importer.ImportLimits(max_xlsx_uncompressed_bytes=len(data))
    with pytest.raises(importer.ImportTooLarge):
        importer.parse_bytes(data, filename="a.xlsx", limits=small)


def _zip_bomb(uncompressed: int) -> bytes:
    """An XLSX-looking zip of a few hundred kilobytes whose sheet inflates to ``uncompressed`` bytes."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/worksheets/sheet1.xml", "w") as sheet,
    ):
        chunk = b" " * (1 << 20)
        for _ in range(uncompressed >> 20):
            sheet.write(chunk)
    return buffer.getvalue()


async def test_a_zip_bomb_upload_is_refused_with_413(client, db):
    headers = await _officer(client, "bomb")
    bomb = _zip_bomb(importer.UPLOAD_LIMITS.max_xlsx_uncompressed_bytes + (1 << 20))
    assert len(bomb) < 1 << 20
    response = await client.post("/api/v1/orgs/import?filename=a.xlsx", content=bomb, headers=headers)
    assert response.status_code == 413 and error_code(response) == "import.too_large"


async def test_the_report_lists_the_first_errors_and_counts_the_rest(client, db, cache):
    headers = await _admin(client, "many-errors", cache)  # no authorities exist: every row is an error
    response = await client.post(
        "/api/v1/orgs/import", content=csv_bytes([CN_HEADER, *many_rows(450)]), headers=headers
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["rows"] == 450
    assert len(report["errors"]) == 200 and report["errors_omitted"] == 250
    assert report["errors"][0]["row"] == 2


async def test_healthz_answers_while_a_large_dry_run_is_parsed(client, db):
    headers = await _officer(client, "big-import")
    # Every row is read and checked in full, and fails on its check character: the work is the
    # parser's (what this test is about), and the report is a capped list of errors.
    rows = [[bad_check(r[0]), *r[1:]] for r in many_rows(6000)]
    data = csv_bytes([CN_HEADER, *rows])
    answered = 0
    async with LoopWatch() as watch:
        upload = asyncio.create_task(client.post("/api/v1/orgs/import", content=data, headers=headers))
        while not upload.done():
            await asyncio.sleep(0.005)  # the upload's steps run meanwhile
            assert (await client.get("/healthz")).status_code == 200
            answered += 1
        response = await upload
    assert response.status_code == 200, response.text
    assert (len(response.json()["errors"]), response.json()["errors_omitted"]) == (200, 5800)
    # Parsing 6,000 rows on the loop would be one step of about half a second of the loop's CPU
    # (health checks wait behind it); in a worker thread no step of the loop comes near that.
    # CPU time of the loop's thread, not wall time: a busy machine does not change it.
    assert answered >= 5
    assert watch.longest_step < LONGEST_STEP_SECONDS, (watch.longest_step, watch.longest_wait)
