"""Fetches chart images from https URLs without letting a URL reach inside our network.

The host is resolved once, every address it resolves to must be public, and the connection goes to the
address that was checked (TLS still verifies the certificate against the host name), so a DNS answer
that changes between the check and the connection cannot redirect the request. Redirects are refused
rather than followed, the body is capped while it streams, and the bytes must really be an image.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from chartwise_analysis.errors import ChartFetchFailed, ChartUnreachable
from chartwise_analysis.images import IMAGE_TYPES, checked_image

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

HTTPS_PORT = 443
SERVER_ERROR = 500


@dataclass(frozen=True, slots=True)
class FetchedImage:
    data: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class Target:
    host: str
    address: IPAddress
    path: str


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host`."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def is_public(address: IPAddress) -> bool:
    """False for loopback, private, link-local, reserved, multicast and unspecified addresses."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public(address.ipv4_mapped)
    return address.is_global and not address.is_multicast


def split_https_url(url: str) -> tuple[str, str]:
    """The host and the path (with query) of an https URL on the default port; ChartUnreachable otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ChartUnreachable(f"chart URL is malformed: {error}") from error
    if parts.scheme != "https":
        raise ChartUnreachable("chart URLs must use https")
    if parts.username is not None or parts.password is not None:
        raise ChartUnreachable("chart URLs must not carry credentials")
    if port not in (None, HTTPS_PORT):
        raise ChartUnreachable("chart URLs must use the default https port")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ChartUnreachable("chart URL has no host")
    path = parts.path or "/"
    return host, f"{path}?{parts.query}" if parts.query else path


async def resolve_public(host: str, resolver: Resolver) -> IPAddress:
    """The address to connect to; refuses a host any of whose addresses is not public."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        candidates = [literal]
    else:
        try:
            found = await resolver(host, HTTPS_PORT)
        except OSError as error:
            raise ChartFetchFailed(f"could not resolve {host}: {error}") from error
        candidates = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
    if not candidates:
        raise ChartFetchFailed(f"{host} resolves to no address")
    refused = [a for a in candidates if not is_public(a)]
    if refused:
        raise ChartUnreachable(f"{host} resolves to a non-public address ({refused[0]})")
    return candidates[0]


class ChartFetcher:
    """Downloads one chart image under a size cap, a deadline and an image-type check."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        max_bytes: int,
        timeout_s: float,
        resolver: Resolver = system_resolver,
    ) -> None:
        self._client = client
        self._max_bytes = max_bytes
        self._timeout_s = timeout_s
        self._resolver = resolver

    async def target(self, url: str) -> Target:
        host, path = split_https_url(url)
        return Target(host=host, address=await resolve_public(host, self._resolver), path=path)

    async def fetch(self, url: str) -> FetchedImage:
        target = await self.target(url)
        try:
            async with asyncio.timeout(self._timeout_s):
                data, declared = await self._download(target)
        except TimeoutError as error:
            raise ChartFetchFailed(f"{target.host} did not send the chart within {self._timeout_s:g}s") from error
        except httpx.TransportError as error:
            raise ChartFetchFailed(f"fetching the chart from {target.host} failed: {error!r}") from error
        if declared not in IMAGE_TYPES:
            raise ChartUnreachable(f"{target.host} answered {declared or 'no content type'}, not a chart image")
        content_type = checked_image(data, max_bytes=self._max_bytes, label=f"the chart from {target.host}")
        return FetchedImage(data=data, content_type=content_type)

    async def _download(self, target: Target) -> tuple[bytes, str]:
        address = f"[{target.address}]" if target.address.version == 6 else str(target.address)
        request = self._client.build_request(
            "GET",
            f"https://{address}{target.path}",
            headers={"Host": target.host, "Accept": ", ".join(sorted(IMAGE_TYPES))},
            extensions={"sni_hostname": target.host},
        )
        response = await self._client.send(request, stream=True, follow_redirects=False)
        try:
            if response.status_code >= SERVER_ERROR:
                raise ChartFetchFailed(f"{target.host} answered {response.status_code}")
            if response.status_code != httpx.codes.OK:
                raise ChartUnreachable(f"{target.host} answered {response.status_code} for the chart")
            declared = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            length = response.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > self._max_bytes:
                raise ChartUnreachable(f"the chart from {target.host} is larger than {self._max_bytes} bytes")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > self._max_bytes:
                    raise ChartUnreachable(f"the chart from {target.host} is larger than {self._max_bytes} bytes")
            return bytes(body), declared
        finally:
            await response.aclose()
