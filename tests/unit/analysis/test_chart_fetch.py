"""Fetching chart URLs: only public https hosts, bounded size and time, real images only."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from chartwise_analysis.errors import AnalysisRunError, ChartFetchFailed, ChartUnreachable
from chartwise_analysis.fetch import ChartFetcher, is_public, resolve_public, split_https_url

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PUBLIC = "93.184.215.14"


def resolver_to(*addresses: str):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


def fetcher(handler, *, addresses: tuple[str, ...] = (PUBLIC,), max_bytes: int = 1024) -> ChartFetcher:  # type: ignore[no-untyped-def]
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return ChartFetcher(client, max_bytes=max_bytes, timeout_s=2.0, resolver=resolver_to(*addresses))


@pytest.mark.parametrize(
    "url",
    [
        "http://charts.example.com/a.png",
        "ftp://charts.example.com/a.png",
        "file:///etc/passwd",
        "https://user:pw@charts.example.com/a.png",
        "https://charts.example.com:8443/a.png",
        "https:///a.png",
    ],
)
def test_urls_other_than_plain_https_are_refused(url: str) -> None:
    with pytest.raises(ChartUnreachable):
        split_https_url(url)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "::1",
        "fd00::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "100.64.0.1",
        "224.0.0.1",
        "240.0.0.1",
    ],
)
def test_private_loopback_link_local_and_reserved_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


def test_a_global_address_is_public() -> None:
    assert is_public(ipaddress.ip_address(PUBLIC))
    assert is_public(ipaddress.ip_address("2606:4700:4700::1111"))


async def test_a_host_resolving_to_any_private_address_is_refused() -> None:
    with pytest.raises(ChartUnreachable, match="non-public"):
        await resolve_public("rebind.example.com", resolver_to(PUBLIC, "127.0.0.1"))
    with pytest.raises(ChartUnreachable):
        await resolve_public("169.254.169.254", resolver_to())


async def test_a_public_png_is_fetched_from_the_checked_address_with_the_host_name_kept() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=PNG, headers={"content-type": "image/png"})

    image = await fetcher(handler).fetch("https://charts.example.com/btc.png?x=1")

    assert image.data == PNG
    assert image.content_type == "image/png"
    [request] = seen
    assert request.url.host == PUBLIC
    assert request.url.raw_path == b"/btc.png?x=1"
    assert request.headers["host"] == "charts.example.com"
    assert request.extensions["sni_hostname"] == "charts.example.com"


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        (httpx.Response(302, headers={"location": "http://127.0.0.1/"}), "302"),
        (httpx.Response(404), "404"),
        (httpx.Response(200, content=b"<html>", headers={"content-type": "text/html"}), "text/html"),
        (httpx.Response(200, content=b"GIF89a....", headers={"content-type": "image/png"}), "not a PNG"),
        (httpx.Response(200, content=PNG * 40, headers={"content-type": "image/png"}), "larger than"),
    ],
)
async def test_unusable_answers_are_refused_for_good(response: httpx.Response, problem: str) -> None:
    with pytest.raises(AnalysisRunError, match=problem) as refused:
        await fetcher(lambda _request: response).fetch("https://charts.example.com/a.png")
    assert refused.value.retryable is False


async def test_server_errors_and_network_failures_may_be_retried() -> None:
    with pytest.raises(ChartFetchFailed):
        await fetcher(lambda _request: httpx.Response(503)).fetch("https://charts.example.com/a.png")

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    with pytest.raises(ChartFetchFailed):
        await fetcher(unreachable).fetch("https://charts.example.com/a.png")
