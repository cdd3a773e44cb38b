"""Recognises chart images by their first bytes, never by what a sender claims they are."""

from __future__ import annotations

from chartwise_analysis.errors import InvalidImage

PNG = "image/png"
JPEG = "image/jpeg"
WEBP = "image/webp"
IMAGE_TYPES = frozenset({PNG, JPEG, WEBP})


def sniff_image_type(data: bytes) -> str | None:
    """The image type the bytes really are, among PNG, JPEG and WebP; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    return None


def checked_image(data: bytes, *, max_bytes: int, label: str) -> str:
    """The content type of a usable chart image; raises InvalidImage for an empty, oversized or foreign one."""
    if not data:
        raise InvalidImage(f"{label} is empty")
    if len(data) > max_bytes:
        raise InvalidImage(f"{label} is {len(data)} bytes; at most {max_bytes} are accepted")
    content_type = sniff_image_type(data)
    if content_type is None:
        raise InvalidImage(f"{label} is not a PNG, JPEG or WebP image")
    return content_type
