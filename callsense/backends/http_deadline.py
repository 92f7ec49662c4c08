"""A whole HTTP exchange bounded in time, once for the LLM servers and the CRMs.

httpx's timeouts bound each connect, write and read, never their sum: a server or a proxy that sends a byte
now and then (a stuck model behind a keep-alive proxy, a CRM streaming an error page) holds the caller as
long as it likes, and a queue job with it, its worker still heart-beating. ``DeadlineTransport`` wraps the
real transport and cuts the answer's body off once ``seconds`` have passed since the request was sent,
raising ``httpx.ReadTimeout`` as a read timeout would.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx

__all__ = ["DeadlineTransport"]


class DeadlineTransport(httpx.BaseTransport):
    def __init__(self, seconds: float, inner: httpx.BaseTransport) -> None:
        self._seconds = seconds
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = time.monotonic() + self._seconds  # waiting for the headers is one read: bounded already
        response = self._inner.handle_request(request)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Bounded(response, request, deadline, f"no complete answer within {self._seconds:g} s"),
            extensions=response.extensions,
            request=request,
        )

    def close(self) -> None:
        self._inner.close()


class _Bounded(httpx.SyncByteStream):
    def __init__(
        self, response: httpx.Response, request: httpx.Request, deadline: float, message: str
    ) -> None:
        self._response = response
        self._request = request
        self._deadline = deadline
        self._message = message

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._response.stream:  # type: ignore[union-attr]
            if time.monotonic() > self._deadline:
                raise httpx.ReadTimeout(self._message, request=self._request)
            yield chunk

    def close(self) -> None:
        self._response.close()
