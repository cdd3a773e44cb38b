"""Chart images for the gateway tests, made on the spot."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageDraw


def chart_png(width: int = 320, height: int = 200, *, rising: bool = True) -> bytes:
    """A small line chart: a white background and a price line going up (or down)."""
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    points = [
        (x, (height - 20 - x * (height - 40) // width) if rising else (20 + x * (height - 40) // width))
        for x in range(0, width, 8)
    ]
    draw.line(points, fill=(20, 120, 20), width=3)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def gif_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), "white").save(buffer, format="GIF")
    return buffer.getvalue()


def bomb_png(width: int = 60_000, height: int = 60_000) -> bytes:
    """A few hundred bytes whose header claims billions of pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )
