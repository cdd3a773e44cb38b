"""The blob store port for chart images, and the local-directory adapter used in development."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


@dataclass(frozen=True, slots=True)
class StoredBlob:
    key: str
    url: str
    content_type: str
    size: int
    sha256: str


class BlobNotFound(LookupError):
    pass


class BlobStore(Protocol):
    async def put(self, data: bytes, *, content_type: str, folder: str) -> StoredBlob: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...


def content_key(data: bytes, *, content_type: str, folder: str) -> tuple[str, str]:
    """A deterministic key from the content hash, so storing the same image twice stores it once."""
    digest = hashlib.sha256(data).hexdigest()
    extension = EXTENSIONS.get(content_type, "bin")
    return f"{folder}/{digest}.{extension}", digest


class LocalBlobStore:
    """Blobs as files under one directory, written atomically (temporary file, then rename)."""

    def __init__(self, directory: Path) -> None:
        self._root = directory.resolve()

    def _path(self, key: str) -> Path:
        path = (self._root / key).resolve()
        if not path.is_relative_to(self._root) or path == self._root:
            raise BlobNotFound(key)
        return path

    async def put(self, data: bytes, *, content_type: str, folder: str) -> StoredBlob:
        key, digest = content_key(data, content_type=content_type, folder=folder)
        path = self._path(key)
        await asyncio.to_thread(_write_atomically, path, data)
        return StoredBlob(key=key, url=path.as_uri(), content_type=content_type, size=len(data), sha256=digest)

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as error:
            raise BlobNotFound(key) from error

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)


def _write_atomically(path: Path, data: bytes) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    Path(handle.name).replace(path)
