"""Every CSV or XLSX the project writes goes through backend/tabular.py, which neutralizes formulas."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from openpyxl import load_workbook

from backend.accounts.models import User
from tests.partybuilding.test_checkins import publish, user_id, world  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parents[1]
WRITERS = re.compile(r"csv\.writer|csv\.DictWriter|\bWorkbook\(|xlsxwriter")


def test_no_module_but_tabular_writes_spreadsheets():
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("backend", "miniprogram_api", "notifications")
        for path in (ROOT / package).rglob("*.py")
        if path.name != "tabular.py" and WRITERS.search(path.read_text(encoding="utf-8"))
    ]
    # A module that needs a download calls backend.tabular.to_csv / to_xlsx instead.
    assert offenders == []


async def test_attendance_downloads_neutralize_a_hostile_nickname(client, world):  # noqa: F811
    hostile = '=HYPERLINK("http://evil.example","点我")'
    await User.filter(id=await user_id(client, world["members"]["m1"])).update(nickname=hostile)
    activity = await publish(client, world)
    url = f"/api/v1/activities/{activity['id']}/attendance"
    as_csv = await client.get(url, params={"format": "csv"}, headers=world["staff"])
    assert as_csv.status_code == 200, as_csv.text
    cells = [cell for line in csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))) for cell in line]
    assert "'" + hostile in cells and hostile not in cells
    as_xlsx = await client.get(url, params={"format": "xlsx"}, headers=world["staff"])
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    values = [cell.value for row in sheet.iter_rows() for cell in row]
    assert "'" + hostile in values and hostile not in values
