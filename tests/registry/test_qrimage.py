"""QR images: size rules, and decoding them back with a real decoder (zxing-cpp, a PyPI wheel)."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image, ImageDraw

from backend.errors import Unprocessable
from backend.registry.qrimage import MAX_SIZE, MIN_SIZE, BadQrSize, QrDataTooLong, render_png, render_svg

URL = (
    "https://gongxin.example.cn/o/51440300MJL0000103.3.tp8pis.k20261129plgw."
    "94bwWrlPHBS_FAT4bFQZW52cuyscg13n4ELBLpbPmrk8aJ2vDJckTVg5NbfWmHbLghayuux2NZS940s2F5XbDA"
)


def _decode(image: Image.Image) -> list[tuple[str, str]]:
    zxingcpp = pytest.importorskip("zxingcpp", reason="QR decoding needs `pip install zxing-cpp`")
    return [(r.text, r.ec_level) for r in zxingcpp.read_barcodes(image.convert("L"))]


def _rasterize_svg(svg: bytes) -> Image.Image:
    """Draw our SVG's one path (M x,y h w v b h -w z runs) onto a bitmap."""
    text = svg.decode("ascii")
    size = int(re.search(r'width="(\d+)"', text)[1])
    image = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(image)
    path = re.search(r'<path fill="#000" d="([^"]*)"', text)[1]
    for x, y, w, h in re.findall(r"M(\d+),(\d+)h(\d+)v(\d+)h-\d+z", path):
        x0, y0 = int(x), int(y)
        draw.rectangle((x0, y0, x0 + int(w) - 1, y0 + int(h) - 1), fill=0)
    return image


@pytest.mark.parametrize("size", [MIN_SIZE, 300, 512, MAX_SIZE])
def test_png_is_the_requested_size_and_decodes_to_the_url(size):
    image = Image.open(io.BytesIO(render_png(URL, size=size)))
    assert image.format == "PNG"
    assert image.size == (size, size)
    assert _decode(image) == [(URL, "Q")]


@pytest.mark.parametrize("size", [MIN_SIZE, 512])
def test_svg_is_the_requested_size_and_decodes_to_the_url(size):
    svg = render_svg(URL, size=size)
    assert svg.startswith(b"<svg ") and f'width="{size}" height="{size}"'.encode() in svg
    assert _decode(_rasterize_svg(svg)) == [(URL, "Q")]


def test_png_and_svg_draw_the_same_modules():
    png = Image.open(io.BytesIO(render_png(URL, size=400))).convert("L")
    assert png.tobytes() == _rasterize_svg(render_svg(URL, size=400)).tobytes()


def test_quiet_zone_is_at_least_four_modules():
    image = Image.open(io.BytesIO(render_png(URL, size=MIN_SIZE))).convert("L")
    left, top, right, bottom = image.point(lambda v: 255 - v).getbbox()
    # Version 9 has 53 modules; at 128 px a module is 2 px, so 4 modules are 8 px.
    assert min(left, top, MIN_SIZE - right, MIN_SIZE - bottom) >= 8


def test_png_is_pure_black_and_white():
    image = Image.open(io.BytesIO(render_png(URL))).convert("L")
    assert set(image.tobytes()) == {0, 255}


@pytest.mark.parametrize("size", [0, 127, 2049, -512, 512.0, True, "512"])
def test_size_outside_range_is_bad_size(size):
    for render in (render_png, render_svg):
        with pytest.raises(BadQrSize) as err:
            render(URL, size=size)
        assert err.value.code == "qr.bad_size"
        assert isinstance(err.value, Unprocessable)


def test_too_much_data_for_the_smallest_size_is_bad_size():
    with pytest.raises(BadQrSize):
        render_png("x" * 1200, size=MIN_SIZE)


def test_data_beyond_qr_capacity_is_refused():
    with pytest.raises(QrDataTooLong):
        render_svg("x" * 4000)
