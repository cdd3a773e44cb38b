"""Chart images are judged by their bytes: type, size, pixel count and a complete decode."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import pytest
from PIL import Image

from chartwise_gateway.errors import PayloadTooLarge, UnsupportedMediaType
from chartwise_gateway.images import ImageLimits, decode_data_url, validate_image
from chartwise_runtime.errors import InvalidInput

LIMITS = ImageLimits(max_bytes=200_000, max_pixels=1_000_000)


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size: a decompression bomb in spirit."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("fmt", "content_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_accepted_formats_are_recognised_by_their_bytes(fmt: str, content_type: str) -> None:
    image = validate_image(image_bytes(fmt), limits=LIMITS, label="chart 1")

    assert (image.content_type, image.width, image.height) == (content_type, 64, 48)


def test_gif_is_refused_as_unsupported() -> None:
    with pytest.raises(UnsupportedMediaType):
        validate_image(image_bytes("GIF"), limits=LIMITS, label="chart 1")


def test_text_named_like_a_png_is_refused() -> None:
    with pytest.raises(UnsupportedMediaType):
        validate_image(b"<html>not a chart</html>", limits=LIMITS, label="chart.png")


def test_oversize_file_is_refused_before_it_is_read() -> None:
    with pytest.raises(PayloadTooLarge) as refused:
        validate_image(b"\x89PNG\r\n\x1a\n" + b"\0" * LIMITS.max_bytes, limits=LIMITS, label="chart 1")

    assert refused.value.details["max_bytes"] == LIMITS.max_bytes


def test_image_over_the_pixel_limit_is_refused_from_its_header() -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_image(png_header_claiming(2_000, 1_000), limits=LIMITS, label="chart 1")

    assert (refused.value.details["width"], refused.value.details["height"]) == (2_000, 1_000)


def test_decompression_bomb_is_refused_without_decoding() -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_image(png_header_claiming(50_000, 50_000), limits=LIMITS, label="chart 1")

    assert "pixels" in refused.value.message


def test_truncated_image_is_refused_as_undecodable() -> None:
    whole = image_bytes("PNG", (300, 300))

    with pytest.raises(InvalidInput):
        validate_image(whole[: len(whole) // 2], limits=LIMITS, label="chart 1")


def test_data_url_is_decoded() -> None:
    png = image_bytes("PNG")

    assert decode_data_url("data:image/png;base64," + base64.b64encode(png).decode(), limits=LIMITS, label="c") == png


def test_data_url_of_another_type_is_unsupported() -> None:
    with pytest.raises(UnsupportedMediaType):
        decode_data_url("data:image/svg+xml;base64,PHN2Zz4=", limits=LIMITS, label="c")


def test_oversize_data_url_is_refused_before_decoding() -> None:
    with pytest.raises(PayloadTooLarge):
        decode_data_url("data:image/png;base64," + "A" * (LIMITS.max_bytes * 2), limits=LIMITS, label="c")


def test_malformed_base64_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        decode_data_url("data:image/png;base64,***", limits=LIMITS, label="c")
