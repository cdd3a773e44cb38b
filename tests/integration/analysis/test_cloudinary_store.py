"""The Cloudinary blob store through the official SDK, against a local server that verifies signatures."""

from __future__ import annotations

import httpx
import pytest

from chartwise_analysis.cloudinary_store import CloudinaryBlobStore, CloudinaryConfig
from chartwise_runtime.blobs import BlobNotFound
from tests.fakes.cloudinary_server import FakeCloudinary
from tests.integration.analysis.conftest import png


def store_for(fake: FakeCloudinary, http: httpx.AsyncClient, *, secret: str | None = None) -> CloudinaryBlobStore:
    config = CloudinaryConfig(
        cloud_name=fake.cloud_name,
        api_key=fake.api_key,
        api_secret=secret or fake.api_secret,
        upload_prefix=fake.base_url,
        delivery_cname=fake.host,
        secure=False,
    )
    return CloudinaryBlobStore(config, http)


async def test_a_chart_is_stored_under_its_content_hash_and_read_back(fake_cloudinary: FakeCloudinary) -> None:
    async with httpx.AsyncClient() as http:
        store = store_for(fake_cloudinary, http)
        first = await store.put(png(seed=3), content_type="image/png", folder="chart_analysis")
        second = await store.put(png(seed=3), content_type="image/png", folder="chart_analysis")

        assert first.key == second.key == f"chart_analysis/{first.sha256}.png"
        assert list(fake_cloudinary.assets) == [f"chart_analysis/{first.sha256}"]
        assert fake_cloudinary.uploads[0]["overwrite"] in {"0", "false"}
        assert first.url.endswith(f"/chart_analysis/{first.sha256}.png")
        assert await store.get(first.key) == png(seed=3)

        await store.delete(first.key)
        with pytest.raises(BlobNotFound):
            await store.get(first.key)


async def test_an_upload_signed_with_the_wrong_secret_is_refused(fake_cloudinary: FakeCloudinary) -> None:
    async with httpx.AsyncClient() as http:
        store = store_for(fake_cloudinary, http, secret="not-the-secret")

        with pytest.raises(Exception, match="Invalid Signature"):
            await store.put(png(), content_type="image/png", folder="chart_analysis")

    assert fake_cloudinary.assets == {}
    assert len(fake_cloudinary.refused) == 1
