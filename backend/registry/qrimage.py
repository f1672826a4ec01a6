"""QR code images (PNG, SVG) for posters, certificates and donation boxes.

Error correction is level Q (about 25 % of the code words can be restored): the codes are printed and
stuck on walls and boxes where they get dirty, scratched and partly covered, and a platform URL with
its token still fits version 9 (53 modules) at Q. Every image keeps a quiet zone of at least 4
modules, as ISO/IEC 18004 requires; modules are whole pixels (no blurry scaling), and the margin takes
up whatever the requested size leaves over.
"""

from __future__ import annotations

import io

import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_Q
from qrcode.exceptions import DataOverflowError

from backend.errors import Unprocessable

__all__ = ["MAX_SIZE", "MIN_SIZE", "BadQrSize", "QrDataTooLong", "render_png", "render_svg"]

MIN_SIZE = 128
MAX_SIZE = 2048
QUIET_ZONE = 4  # modules


class BadQrSize(Unprocessable):
    code = "qr.bad_size"
    message = f"二维码尺寸须在 {MIN_SIZE} 到 {MAX_SIZE} 像素之间 / Size must be {MIN_SIZE}-{MAX_SIZE} px"


class QrDataTooLong(Unprocessable):
    code = "qr.data_too_long"
    message = "内容过长，无法生成二维码 / Too much data for a QR code"


def _matrix(data: str) -> list[list[bool]]:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=0)
    qr.add_data(data)
    try:
        qr.make(fit=True)
    except (DataOverflowError, ValueError):
        # qrcode raises ValueError ("Invalid version 41") when fit=True runs past version 40.
        raise QrDataTooLong() from None
    return qr.get_matrix()


def _layout(data: str, size: int) -> tuple[list[list[bool]], int, int]:
    """The module matrix, the pixels per module and the offset of the first module."""
    if isinstance(size, bool) or not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
        raise BadQrSize()
    matrix = _matrix(data)
    box = size // (len(matrix) + 2 * QUIET_ZONE)
    if box < 1:
        raise BadQrSize(f"{size} 像素放不下该二维码 / {size} px is too small for this much data")
    return matrix, box, (size - box * len(matrix)) // 2


def render_png(data: str, *, size: int = 512) -> bytes:
    """A black-on-white PNG, ``size`` pixels square including the quiet zone."""
    matrix, box, offset = _layout(data, size)
    n = len(matrix)
    # One pixel per module first, then an integer nearest-neighbour scale: crisp edges, and fast.
    modules = Image.frombytes("L", (n, n), bytes(0 if dark else 255 for row in matrix for dark in row))
    image = Image.new("L", (size, size), 255)
    image.paste(modules.resize((n * box, n * box), Image.Resampling.NEAREST), (offset, offset))
    out = io.BytesIO()
    # 1-bit PNG: a third of the bytes of greyscale, and no grey to blur a printer's edges.
    image.convert("1", dither=Image.Dither.NONE).save(out, format="PNG", optimize=True)
    return out.getvalue()


def render_svg(data: str, *, size: int = 512) -> bytes:
    """A black-on-white SVG, ``size`` pixels square including the quiet zone, one path for all modules."""
    matrix, box, offset = _layout(data, size)
    # Horizontal runs of dark modules as one path, in pixel units, so it scales exactly like the PNG.
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                width = (x - start) * box
                runs.append(f"M{offset + start * box},{offset + y * box}h{width}v{box}h-{width}z")
            else:
                x += 1
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>'
    )
    return svg.encode("ascii")
