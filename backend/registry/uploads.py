"""An officer's import through the API: parsed in a worker thread, checked, applied, reported briefly.

Parsing is pure Python and takes seconds for a large file (about 5 s for the 50,000 rows an upload
may hold): in a thread the event loop keeps answering other requests meanwhile, since Python hands
the GIL over every few milliseconds. The report lists the first ``MAX_ERRORS_LISTED`` row errors and
counts the rest (``errors_omitted``): a file where every row is wrong must not come back as tens of
megabytes of JSON.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..accounts.models import User
from ..cache import Cache
from ..crypto import PersonalDataCipher
from ..errors import BadRequest
from . import importer, imports

MAX_ERRORS_LISTED = 200


def brief_report(report: dict[str, Any]) -> dict[str, Any]:
    """The report with its errors cut to the first ``MAX_ERRORS_LISTED`` and the rest counted."""
    errors = report["errors"]
    return {
        **report,
        "errors": errors[:MAX_ERRORS_LISTED],
        "errors_omitted": max(0, len(errors) - MAX_ERRORS_LISTED),
    }


async def import_upload(
    *, actor: User, data: bytes, filename: str, apply: bool, cipher: PersonalDataCipher, cache: Cache
) -> dict[str, Any]:
    """Import an uploaded CSV or XLSX export (officers, admins): a dry run or all rows, with its report."""
    await imports.require_importer(actor)
    if not data:
        raise BadRequest("请上传 CSV 或 XLSX 文件 / Upload a CSV or XLSX file", code="import.empty")
    parsed = await asyncio.to_thread(importer.parse_bytes, data, filename=filename)
    result = await imports.apply_import(parsed=parsed, actor=actor, apply=apply, cipher=cipher, cache=cache)
    return brief_report(result.report())
