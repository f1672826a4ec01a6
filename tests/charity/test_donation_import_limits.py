"""The donation import has the organization import's caps: rows, what an XLSX inflates to, errors listed."""

from __future__ import annotations

import io
import zipfile

import pytest

from backend.charity import donation_import
from backend.charity.models import LedgerEntry
from tests.conftest import error_code

HEADER = "捐赠时间,捐赠金额(元),捐赠人,支付流水号\n"


def _csv(rows: int, *, amount: str = "1.00") -> bytes:
    lines = [f"2026-03-01 09:00:00,{amount},张三,P-{i}\n" for i in range(rows)]
    return (HEADER + "".join(lines)).encode()


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


def _url(campaign, **params):
    query = "&".join(f"{k}={v}" for k, v in {"channel": "tencent_gongyi", **params}.items())
    return f"/api/v1/projects/{campaign['id']}/donations/import?{query}"


def test_rows_beyond_the_cap_refuse_the_file_with_413():
    assert len(donation_import.parse_bytes(_csv(3), filename="a.csv", max_rows=3).rows) == 3
    with pytest.raises(donation_import.ImportTooManyRows) as caught:
        donation_import.parse_bytes(_csv(4), filename="a.csv", max_rows=3)
    assert caught.value.status == 413 and caught.value.code == "import.too_many_rows"


def test_the_default_cap_is_the_benchmarked_100000_rows():
    assert donation_import.MAX_ROWS == 100_000


def test_an_xlsx_declaring_more_than_the_cap_is_refused_before_it_is_inflated():
    bomb = _zip_bomb(2 << 20)
    with pytest.raises(donation_import.spreadsheet.ImportTooLarge):
        donation_import.parse_bytes(bomb, filename="a.xlsx", max_xlsx_uncompressed_bytes=1 << 20)


async def test_a_zip_bomb_upload_is_refused_with_413(client, campaign):
    bomb = _zip_bomb(donation_import.MAX_XLSX_UNCOMPRESSED_BYTES + (1 << 20))
    assert len(bomb) < 1 << 20
    response = await client.post(
        _url(campaign, filename="export.xlsx"), content=bomb, headers=campaign["staff"]
    )
    assert response.status_code == 413 and error_code(response) == "import.too_large"


async def test_the_report_lists_the_first_errors_and_counts_the_rest(client, campaign):
    response = await client.post(
        _url(campaign, apply="true"), content=_csv(450, amount="0"), headers=campaign["staff"]
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["applied"], report["rows"]) == (False, 450)
    assert len(report["errors"]) == 200 and report["errors_omitted"] == 250
    assert report["errors"][0]["row"] == 2 and report["errors"][0]["code"] == "import.amount"
    assert await LedgerEntry.all().count() == 0


async def test_a_clean_report_omits_nothing(client, campaign):
    response = await client.post(_url(campaign), content=_csv(3), headers=campaign["staff"])
    assert (response.json()["errors"], response.json()["errors_omitted"]) == ([], 0)
