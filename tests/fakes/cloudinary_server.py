"""A local server speaking Cloudinary's upload, destroy and delivery endpoints, verifying request signatures.

    with cloudinary_server() as fake:
        options = {"cloud_name": fake.cloud_name, "api_key": fake.api_key, "api_secret": fake.api_secret,
                   "upload_prefix": fake.base_url}
        cloudinary.uploader.upload(data, folder="chart_analysis", public_id="abc", **options)

The signature is checked as Cloudinary does: every signed parameter except `file`, `api_key`,
`resource_type` and `signature`, as `key=value` sorted and joined with `&`, followed by the API secret,
hashed with SHA-1 (40 hex digits) or SHA-256 (64). A request with a wrong signature, an unknown key or a
timestamp more than an hour off is refused with 401, as the real API does. Delivery URLs are served at
`/<cloud>/image/upload/v<version>/<public_id>.<format>` (use `cname=<host:port>`, `secure=False`).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.threaded import serving

UNSIGNED = frozenset({"file", "api_key", "resource_type", "signature", "cloud_name"})
MAX_CLOCK_SKEW_S = 3600

_FORMATS = {b"\x89PNG": ("png", "image/png"), b"\xff\xd8\xff": ("jpg", "image/jpeg"), b"RIFF": ("webp", "image/webp")}


@dataclass
class Asset:
    public_id: str
    version: int
    format: str
    content_type: str
    data: bytes


def expected_signature(params: dict[str, str], secret: str, *, algorithm: str) -> str:
    to_sign = "&".join(sorted(f"{k}={v}".replace("&", "%26") for k, v in params.items() if v))
    return hashlib.new(algorithm, (to_sign + secret).encode()).hexdigest()


def _sniff(data: bytes) -> tuple[str, str] | None:
    return next((found for magic, found in _FORMATS.items() if data.startswith(magic)), None)


class FakeCloudinary:
    def __init__(
        self, *, cloud_name: str = "chartwise-test", api_key: str = "123456789", api_secret: str = "s3cr3t"
    ) -> None:
        self.cloud_name = cloud_name
        self.api_key = api_key
        self.api_secret = api_secret
        self.base_url = ""
        self.assets: dict[str, Asset] = {}
        self.uploads: list[dict[str, str]] = []
        self.refused: list[str] = []
        self._lock = threading.Lock()

    @property
    def host(self) -> str:
        """host:port, for the SDK's `cname` option when building delivery URLs."""
        return self.base_url.removeprefix("http://")

    def options(self) -> dict[str, Any]:
        """SDK options that send uploads here."""
        return {
            "cloud_name": self.cloud_name,
            "api_key": self.api_key,
            "api_secret": self.api_secret,
            "upload_prefix": self.base_url,
        }

    def _refuse(self, status: int, message: str) -> Response:
        with self._lock:
            self.refused.append(message)
        return JSONResponse({"error": {"message": message}}, status)

    def _check_signature(self, params: dict[str, str]) -> str | None:
        """Why the request is not authentic, or None when it is."""
        if params.get("api_key") != self.api_key:
            return "Unknown API key"
        signature = params.get("signature", "")
        algorithm = {40: "sha1", 64: "sha256"}.get(len(signature))
        if algorithm is None:
            return "Missing or malformed signature"
        signed = {k: v for k, v in params.items() if k not in UNSIGNED}
        wanted = expected_signature(signed, self.api_secret, algorithm=algorithm)
        if not hmac.compare_digest(wanted, signature):
            return f"Invalid Signature {signature}. String to sign - '{'&'.join(sorted(signed))}'."
        timestamp = params.get("timestamp", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_CLOCK_SKEW_S:
            return "Stale request - reported time is too far from the current time"
        return None

    async def _form(self, request: Request) -> tuple[dict[str, str], bytes | None]:
        form = await request.form()
        params: dict[str, str] = {}
        data: bytes | None = None
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
            elif key == "file":
                data = value.encode()
            else:
                params[key.removesuffix("[]")] = value
        return params, data

    async def _upload(self, request: Request) -> Response:
        if request.path_params["cloud"] != self.cloud_name:
            return self._refuse(404, "Unknown cloud")
        params, data = await self._form(request)
        problem = self._check_signature(params)
        if problem is not None:
            return self._refuse(401, problem)
        if not data:
            return self._refuse(400, "Missing required parameter - file")
        sniffed = _sniff(data)
        if sniffed is None:
            return self._refuse(400, "Invalid image file")
        folder = params.get("folder", "").strip("/")
        public_id = params.get("public_id") or hashlib.sha1(data).hexdigest()[:20]
        public_id = f"{folder}/{public_id}" if folder else public_id
        with self._lock:
            self.uploads.append(params)
            existing = self.assets.get(public_id)
            if existing is None or params.get("overwrite") in {"1", "true"}:
                version = int(time.time())
                self.assets[public_id] = Asset(public_id, version, sniffed[0], sniffed[1], data)
            asset = self.assets[public_id]
        delivery = f"{self.base_url}/{self.cloud_name}/image/upload/v{asset.version}/{asset.public_id}.{asset.format}"
        return JSONResponse(
            {
                "public_id": asset.public_id,
                "version": asset.version,
                "format": asset.format,
                "resource_type": "image",
                "type": "upload",
                "bytes": len(asset.data),
                "url": delivery,
                "secure_url": delivery,
                "existing": existing is not None,
            }
        )

    async def _destroy(self, request: Request) -> Response:
        params, _ = await self._form(request)
        problem = self._check_signature(params)
        if problem is not None:
            return self._refuse(401, problem)
        with self._lock:
            removed = self.assets.pop(params.get("public_id", ""), None)
        return JSONResponse({"result": "ok" if removed else "not found"})

    async def _deliver(self, request: Request) -> Response:
        if request.path_params["cloud"] != self.cloud_name:
            return Response(status_code=404)
        path: str = request.path_params["path"]
        first, _, rest = path.partition("/")
        if first.startswith("v") and first[1:].isdigit():
            path = rest
        public_id, _, extension = path.rpartition(".")
        with self._lock:
            asset = self.assets.get(public_id)
        if asset is None or asset.format != extension:
            return Response(status_code=404)
        return Response(asset.data, media_type=asset.content_type)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1_1/{cloud}/image/upload", self._upload, methods=["POST"]),
                Route("/v1_1/{cloud}/image/destroy", self._destroy, methods=["POST"]),
                Route("/{cloud}/image/upload/{path:path}", self._deliver, methods=["GET"]),
            ]
        )


@contextmanager
def cloudinary_server(**credentials: str) -> Iterator[FakeCloudinary]:
    fake = FakeCloudinary(**credentials)
    with serving(fake.app()) as url:
        fake.base_url = url
        yield fake
