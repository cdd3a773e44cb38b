"""Reading an analysis's chart images: fetch https sources into the blob store once, then load every blob."""

from __future__ import annotations

from typing import Protocol

from chartwise_analysis.errors import InvalidImage
from chartwise_analysis.fetch import FetchedImage
from chartwise_analysis.images import checked_image
from chartwise_analysis.record import StoredChart
from chartwise_analysis.vision import ChartImage
from chartwise_runtime.blobs import BlobNotFound, BlobStore

FOLDER = "chart_analysis"


class Fetcher(Protocol):
    async def fetch(self, url: str) -> FetchedImage: ...


async def store_sources(
    charts: list[StoredChart], blobs: BlobStore, fetcher: Fetcher
) -> tuple[list[StoredChart], bool]:
    """Charts given as URLs, fetched and stored; True when any was, so the caller records the new keys."""
    stored: list[StoredChart] = []
    for chart in charts:
        if chart.blob_key is not None or chart.source_url is None:
            stored.append(chart)
            continue
        image = await fetcher.fetch(chart.source_url)
        blob = await blobs.put(image.data, content_type=image.content_type, folder=FOLDER)
        update = {"blob_key": blob.key, "url": blob.url, "content_type": image.content_type, "sha256": blob.sha256}
        stored.append(chart.model_copy(update=update))
    changed = stored != charts
    return stored, changed


async def load_images(charts: list[StoredChart], blobs: BlobStore, *, max_bytes: int) -> list[ChartImage]:
    """Every chart's bytes, checked to be a real image; InvalidImage for a missing or foreign one."""
    images: list[ChartImage] = []
    for number, chart in enumerate(charts, start=1):
        label = f"chart {number}"
        if chart.blob_key is None:
            raise InvalidImage(f"{label} has no stored image")
        try:
            data = await blobs.get(chart.blob_key)
        except BlobNotFound as error:
            raise InvalidImage(f"{label} was not found in the blob store") from error
        content_type = checked_image(data, max_bytes=max_bytes, label=label)
        images.append(ChartImage(data=data, content_type=content_type, timeframe=chart.timeframe))
    return images
