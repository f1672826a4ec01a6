"""Downloads open in a spreadsheet as text, never as formulas."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from backend import tabular

HOSTILE = ['=HYPERLINK("http://evil.example","点我")', "+1+2", "-3", "@SUM(A1)", "\tx", "\ry"]


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_starts_are_quoted(text: str) -> None:
    assert tabular.neutralize(text) == "'" + text


@pytest.mark.parametrize("value", ["张三", "a=b", "", 42, -5, 3.5, None])
def test_other_cells_are_left_alone(value: object) -> None:
    assert tabular.neutralize(value) == value


def test_csv_has_bom_and_neutral_cells() -> None:
    data = tabular.to_csv(["name", "n"], [["=1+1", -5], ["李四", None]])
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [["name", "n"], ["'=1+1", "-5"], ["李四", ""]]


def test_xlsx_cells_are_text_not_formulas() -> None:
    data = tabular.to_xlsx(["name", "n"], [["=1+1", -5]], title="attendance")
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet.title == "attendance"
    assert [c.value for c in sheet[2]] == ["'=1+1", -5]
    assert sheet["A2"].data_type == "s"
