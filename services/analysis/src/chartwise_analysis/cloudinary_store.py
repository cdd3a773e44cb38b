"""The blob store port on Cloudinary, through its official SDK.

Public ids come from the content hash (folder/sha256), so the same chart uploaded twice is one asset and
a retried upload changes nothing. The SDK is synchronous; its calls run in a thread.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import cloudinary
import cloudinary.uploader
import cloudinary.utils
import httpx

from chartwise_runtime.blobs import EXTENSIONS, BlobNotFound, StoredBlob, content_key

NOT_FOUND = 404


@dataclass(frozen=True, slots=True)
class CloudinaryConfig:
    cloud_name: str
    api_key: str
    api_secret: str
    upload_prefix: str | None = None
    delivery_cname: str | None = None
    secure: bool = True
    timeout_s: float = 30.0


class CloudinaryBlobStore:
    """Images in Cloudinary; keys are `folder/<sha256>.<ext>`, the public id is the key without extension."""

    def __init__(self, config: CloudinaryConfig, http: httpx.AsyncClient) -> None:
        self._config = config
        self._http = http

    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "cloud_name": self._config.cloud_name,
            "api_key": self._config.api_key,
            "api_secret": self._config.api_secret,
        }
        if self._config.upload_prefix:
            options["upload_prefix"] = self._config.upload_prefix
        return options

    async def put(self, data: bytes, *, content_type: str, folder: str) -> StoredBlob:
        key, digest = content_key(data, content_type=content_type, folder=folder)
        answer: dict[str, Any] = await asyncio.to_thread(
            cloudinary.uploader.upload,
            data,
            folder=folder,
            public_id=digest,
            overwrite=False,
            unique_filename=False,
            resource_type="image",
            timeout=self._config.timeout_s,
            **self._options(),
        )
        url = str(answer.get("secure_url") or answer.get("url") or self._delivery_url(key))
        return StoredBlob(key=key, url=url, content_type=content_type, size=len(data), sha256=digest)

    async def get(self, key: str) -> bytes:
        response = await self._http.get(self._delivery_url(key), timeout=self._config.timeout_s)
        if response.status_code == NOT_FOUND:
            raise BlobNotFound(key)
        response.raise_for_status()
        return response.content

    async def delete(self, key: str) -> None:
        public_id, _ = _split_key(key)
        await asyncio.to_thread(
            cloudinary.uploader.destroy,
            public_id,
            resource_type="image",
            invalidate=True,
            timeout=self._config.timeout_s,
            **self._options(),
        )

    def _delivery_url(self, key: str) -> str:
        public_id, extension = _split_key(key)
        options: dict[str, Any] = {
            "cloud_name": self._config.cloud_name,
            "secure": self._config.secure,
            "format": extension,
            "resource_type": "image",
            "type": "upload",
        }
        if self._config.delivery_cname:
            options["cname"] = self._config.delivery_cname
        url, _ = cloudinary.utils.cloudinary_url(public_id, **options)
        return str(url)


def _split_key(key: str) -> tuple[str, str]:
    public_id, dot, extension = key.rpartition(".")
    if not dot or extension not in EXTENSIONS.values() or not public_id:
        raise BlobNotFound(key)
    return public_id, extension
