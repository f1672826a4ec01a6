"""Helpers that make credit codes and export files (CSV, XLSX) for the registry parser tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from stdnum.cn.uscc import calc_check_digit

KIND_CHAR = {"association": "1", "social_service": "2", "foundation": "3", "other": "9"}

CN_HEADER = [
    "统一社会信用代码",
    "社会组织名称",
    "社会组织类型",
    "登记管理机关",
    "成立登记日期",
    "法定代表人",
    "住所",
    "业务范围",
    "业务主管单位",
    "注册资金",
    "登记状态",
]
EN_HEADER = [
    "Credit Code",
    "Name",
    "Kind",
    "Registration Authority",
    "Registration Date",
    "Legal Representative",
    "Address",
    "Business Scope",
    "Supervising Unit",
    "Registered Capital",
    "Status",
]


def make_code(
    kind: str = "association", *, region: str = "110000", serial: int = 1, department: str = "5"
) -> str:
    """A credit code with a correct check character; ``kind`` is an OrgKind value or a raw character."""
    body = f"{department}{KIND_CHAR.get(kind, kind)}{region}5{serial:08d}"
    return body + calc_check_digit(body)


def bad_check(code: str) -> str:
    """The same code with a wrong check character."""
    wrong = "0" if code[-1] != "0" else "1"
    return code[:-1] + wrong


def row(
    code: str,
    name: str = "北京市示例协会",
    kind: str = "社会团体",
    authority: str = "北京市民政局",
    registered_on: Any = "2019-05-01",
    legal_representative: str = "张三",
    address: str = "北京市东城区示例路1号",
    business_scope: str = "学术交流",
    supervising_unit: str = "",
    capital: Any = "3万元",
    status: str = "正常",
) -> list[Any]:
    """One data row in the column order of CN_HEADER / EN_HEADER."""
    return [
        code,
        name,
        kind,
        authority,
        registered_on,
        legal_representative,
        address,
        business_scope,
        supervising_unit,
        capital,
        status,
    ]


def _csv_field(value: Any, delimiter: str) -> str:
    """Quote a field the way spreadsheet programs do when it needs it."""
    text = "" if value is None else str(value)
    if any(ch in text for ch in (delimiter, '"', "\n", "\r")):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_bytes(
    rows: Iterable[Sequence[Any]],
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
    newline: str = "\r\n",
) -> bytes:
    """A delimited text export; ``encoding`` "utf-8-sig" writes a BOM, "gb18030" a GBK-style file."""
    lines = [delimiter.join(_csv_field(v, delimiter) for v in r) for r in rows]
    return (newline.join(lines) + newline).encode(encoding)


def write_csv(
    tmp_path: Path, rows: Iterable[Sequence[Any]], *, name: str = "export.csv", **kwargs: Any
) -> Path:
    """Write ``csv_bytes`` to a file in ``tmp_path``."""
    path = tmp_path / name
    path.write_bytes(csv_bytes(rows, **kwargs))
    return path


def write_xlsx(tmp_path: Path, rows: Iterable[Sequence[Any]], *, name: str = "export.xlsx") -> Path:
    """An XLSX workbook whose first sheet holds ``rows`` (openpyxl gives date cells a date format)."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "社会组织"
    for r in rows:
        sheet.append(list(r))
    # A second sheet that must be ignored: only the first one is read.
    workbook.create_sheet("说明").append(["这一页是填表说明"])
    path = tmp_path / name
    workbook.save(path)
    return path


def many_rows(count: int) -> list[list[Any]]:
    """``count`` distinct valid rows, cycling through kinds, statuses and capital notations."""
    kinds = [("association", "社会团体"), ("social_service", "民办非企业单位"), ("foundation", "基金会")]
    capitals = ["3万元", "1,000,000元", "￥50000", "10.5", "100万元人民币", ""]
    statuses = ["正常", "注销", "撤销登记", ""]
    out = []
    for i in range(count):
        kind, label = kinds[i % 3]
        out.append(
            row(
                make_code(kind, region="440305", serial=i + 1),
                name=f"深圳市南山区示例组织{i:05d}",
                kind=label,
                registered_on=f"20{10 + i % 15}/{1 + i % 12}/{1 + i % 28}",
                capital=capitals[i % len(capitals)],
                status=statuses[i % len(statuses)],
            )
        )
    return out
