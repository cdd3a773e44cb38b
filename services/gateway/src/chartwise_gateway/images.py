"""Chart image checks: type by magic bytes, size, pixel count (before decoding) and a full decode.

A file's name, extension or declared content type is never trusted: only its first bytes and Pillow's
decoder decide what it is. Width and height are read from the header and checked before any pixel is
decoded, so a small file that would expand to gigabytes (a decompression bomb) is refused cheaply.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from chartwise_gateway.errors import PayloadTooLarge, UnsupportedMediaType
from chartwise_runtime.errors import InvalidInput

ALLOWED_TYPES = ("image/png", "image/jpeg", "image/webp")
_PIL_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
_DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+)(?:;[\w=.+-]+)*;base64,(?P<data>.*)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ImageLimits:
    max_bytes: int
    max_pixels: int


@dataclass(frozen=True, slots=True)
class ValidImage:
    data: bytes
    content_type: str
    width: int
    height: int


def sniff(data: bytes) -> str | None:
    """The image type the bytes start with, if it is one we accept."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def validate_image(data: bytes, *, limits: ImageLimits, label: str) -> ValidImage:
    """Checks one image completely; raises 413 / 415 / 422 domain errors naming the image by `label`."""
    if len(data) > limits.max_bytes:
        raise PayloadTooLarge(
            f"{label} is larger than {limits.max_bytes} bytes",
            details={"image": label, "size": len(data), "max_bytes": limits.max_bytes},
        )
    content_type = sniff(data)
    if content_type is None:
        raise UnsupportedMediaType(
            f"{label} is not a PNG, JPEG or WebP image", details={"image": label, "allowed": list(ALLOWED_TYPES)}
        )
    width, height = _checked_size(data, content_type, limits=limits, label=label)
    return ValidImage(data=data, content_type=content_type, width=width, height=height)


def _checked_size(data: bytes, content_type: str, *, limits: ImageLimits, label: str) -> tuple[int, int]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[content_type]]) as header:
                width, height = header.size
                if width * height > limits.max_pixels:
                    raise InvalidInput(
                        f"{label} has too many pixels ({width}x{height})",
                        details={"image": label, "width": width, "height": height, "max_pixels": limits.max_pixels},
                    )
                header.verify()
            # verify() checks structure only; decoding every pixel proves the image is whole.
            with Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[content_type]]) as image:
                image.load()
    except InvalidInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise InvalidInput(f"{label} expands to too many pixels", details={"image": label}) from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise InvalidInput(f"{label} cannot be decoded as an image", details={"image": label}) from error
    return width, height


def decode_data_url(url: str, *, limits: ImageLimits, label: str) -> bytes:
    """The bytes of a base64 `data:` URL, refusing an oversize one before decoding it."""
    match = _DATA_URL.match(url)
    if match is None:
        raise InvalidInput(f"{label} is not a base64 data URL", details={"image": label})
    declared = match.group("type").lower()
    if declared not in ALLOWED_TYPES:
        raise UnsupportedMediaType(
            f"{label} declares {declared}; only PNG, JPEG and WebP are accepted",
            details={"image": label, "allowed": list(ALLOWED_TYPES)},
        )
    encoded = match.group("data")
    if len(encoded) > (limits.max_bytes * 4) // 3 + 4:
        raise PayloadTooLarge(
            f"{label} is larger than {limits.max_bytes} bytes", details={"image": label, "max_bytes": limits.max_bytes}
        )
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidInput(f"{label} is not valid base64", details={"image": label}) from error
