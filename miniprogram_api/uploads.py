"""The file an import route was sent: the raw body, or the part named ``file`` of a multipart form."""

from __future__ import annotations

from sanic import Request

from backend.errors import BadRequest


def uploaded_file(request: Request, filename: str | None) -> tuple[bytes, str | None]:
    """The file's bytes and name (``filename``, the query's, for a raw body).

    A multipart form must carry its file as ``file``: without one, its body (boundaries, headers and
    every part) would otherwise be read as the CSV and answered with a report of nonsense rows.
    """
    if request.content_type.startswith("multipart/form-data"):
        upload = request.files.get("file") if request.files else None
        if upload is None:
            raise BadRequest(
                "表单中没有名为 file 的文件 / The multipart form has no part named 'file'",
                code="import.file_missing",
            )
        return upload.body, upload.name
    return request.body, filename
