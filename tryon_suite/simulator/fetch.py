"""Fetching images named by URL, as the API does for person_image_url and garment_image_url."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import anyio
import httpx

__all__ = ["FetchProblem", "HttpFetcher", "ImageFetcher", "StaticFetcher"]


@dataclass(frozen=True)
class FetchProblem:
    """Why an image URL gave no image: a documented 400 code and a sentence on why."""

    error_code: str
    message: str


class ImageFetcher(Protocol):
    """Gets the bytes behind an image URL, never more than `max_bytes`."""

    async def fetch(self, url: str, max_bytes: int) -> bytes | FetchProblem: ...

    async def aclose(self) -> None: ...


class HttpFetcher:
    """Fetches over HTTP with httpx: a timeout, a few redirects, and a size cap while streaming."""

    def __init__(
        self, timeout: float = 10.0, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        """`transport`, when given, carries every fetch (fixture images served without a
        socket, say); by default fetches go to the network."""
        self._timeout = timeout
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    async def fetch(self, url: str, max_bytes: int) -> bytes | FetchProblem:
        try:
            # One deadline for the whole fetch: a server dripping bytes cannot hold us.
            with anyio.fail_after(self._timeout):
                return await self._fetch(url, max_bytes)
        except TimeoutError:
            return FetchProblem(
                "invalid_parameter",
                f"expected the image URL to answer within {self._timeout:g} s, it did not",
            )
        except Exception as exc:  # any failure to fetch is the URL's problem, never a 500
            return FetchProblem(
                "invalid_parameter",
                f"expected the image URL to be reachable, got {type(exc).__name__}",
            )

    async def _fetch(self, url: str, max_bytes: int) -> bytes | FetchProblem:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self._timeout,
                follow_redirects=True,
                max_redirects=5,
                transport=self._transport,
            )
        async with self._client.stream("GET", url) as response:
            if response.status_code != 200:
                # Which code an unreachable image gets is not documented: invalid_parameter.
                return FetchProblem(
                    "invalid_parameter",
                    f"expected the image URL to answer 200, got {response.status_code}",
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                return FetchProblem(
                    "file_size_too_large",
                    f"expected at most {max_bytes} bytes at the image URL, got {declared}",
                )
            buffer = bytearray()
            async for chunk in response.aiter_bytes():
                buffer += chunk
                if len(buffer) > max_bytes:
                    return FetchProblem(
                        "file_size_too_large",
                        f"expected at most {max_bytes} bytes at the image URL, got more",
                    )
            return bytes(buffer)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class StaticFetcher:
    """Serves images from a mapping of URL to bytes: for tests that want no server at all."""

    def __init__(self, images: Mapping[str, bytes]) -> None:
        self._images = dict(images)

    async def fetch(self, url: str, max_bytes: int) -> bytes | FetchProblem:
        data = self._images.get(url)
        if data is None:
            return FetchProblem(
                "invalid_parameter", "expected the image URL to answer 200, got 404"
            )
        if len(data) > max_bytes:
            return FetchProblem(
                "file_size_too_large",
                f"expected at most {max_bytes} bytes at the image URL, got more",
            )
        return data

    async def aclose(self) -> None:
        return None
