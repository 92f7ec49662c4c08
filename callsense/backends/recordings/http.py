"""Download a recording from an http(s) URL, within a size limit.

A download is refused before any connection when the host resolves to a non-public address that is not
allowlisted (``ssrf.py``); it then connects to the address that was checked, sending the original Host header
and TLS server name, so a DNS answer that changes between check and connection (rebinding) cannot redirect it.
Redirects are followed by hand, at most ``max_redirects``, each target checked the same way; credentials
(``fetch.sources``) are only sent to the origin (scheme, host, port) the download started on.

Bodies stream with connect/read timeouts and stop as soon as the size limit is passed. One call is one try:
timeouts, connection errors and 5xx (also 408 and 429: ``backends.http_status``) raise a retryable
``FetchError`` and the job queue decides when to try again (``pipeline.retries.RETRY``), not sooner than the
server's ``Retry-After`` if it sent one; other 4xx are final.
No try is repeated here: each connection is fresh, so there is no stale pooled connection to forgive, and a
wait here would hold a worker the queue can give to another call. The first bytes must be a known audio
container (``sniff.py``).
"""

from __future__ import annotations

import base64
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import httpx
import structlog

from callsense.backends.http_status import is_retryable, retry_after_s
from callsense.backends.recordings.base import describe
from callsense.backends.recordings.sniff import SNIFF_BYTES, require_audio
from callsense.backends.recordings.ssrf import AddressPolicy, IPAddress
from callsense.config import Settings
from callsense.config.fetch import SourceAuth, SourceAuthKind
from callsense.errors import BadAudioError, FetchError, PermanentFetchError, RetryableStatusError, StatusError

log = structlog.get_logger(__name__)

REDIRECTS = {301, 302, 303, 307, 308}
CHUNK = 64 * 1024
SNIFFED = 64  # bytes of the body kept to sniff, and to describe what came instead of audio


@dataclass(frozen=True)
class FetchOptions:
    max_bytes: int
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    download_timeout: float = 1800.0
    max_redirects: int = 5
    policy: AddressPolicy = field(default_factory=AddressPolicy)  # the default refuses every private address
    sources: tuple[SourceAuth, ...] = ()
    ca_file: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchOptions:
        fetch = settings.fetch
        return cls(
            max_bytes=settings.max_file_bytes,
            connect_timeout=fetch.connect_timeout_s,
            read_timeout=fetch.read_timeout_s,
            download_timeout=fetch.download_timeout_s,
            max_redirects=fetch.max_redirects,
            policy=AddressPolicy.build(allow_hosts=fetch.allow_hosts, allow_networks=fetch.allow_networks),
            sources=tuple(fetch.sources),
            ca_file=fetch.ca_file,
        )


def _parse(url: str) -> httpx.URL:
    """The URL without credentials or fragment; refuses schemes other than http and https."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise PermanentFetchError(f"invalid URL: {exc}") from exc
    if parsed.scheme not in {"http", "https"}:
        raise PermanentFetchError(
            f"unsupported URL scheme '{parsed.scheme}': only http and https are fetched"
        )
    if not parsed.raw_host:
        raise PermanentFetchError("the URL has no host")
    return parsed.copy_with(userinfo=b"", fragment=None)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def credentials_for(url: httpx.URL, sources: tuple[SourceAuth, ...]) -> SourceAuth | None:
    """The ``fetch.sources`` entry whose credentials go to ``url``: the longest matching ``url_prefix``."""
    best: SourceAuth | None = None
    for source in sources:
        prefix = httpx.URL(source.url_prefix)
        if _origin(prefix) != _origin(url):
            continue
        base = prefix.path.rstrip("/")
        if url.path != base and not url.path.startswith(base + "/"):
            continue
        if best is None or len(source.url_prefix) > len(best.url_prefix):
            best = source
    return best


def _authorization(url: httpx.URL, sources: tuple[SourceAuth, ...]) -> str | None:
    """The Authorization header for ``url``, or None."""
    best = credentials_for(url, sources)
    if best is None:
        return None
    if best.kind is SourceAuthKind.bearer and best.token is not None:
        return f"Bearer {best.token.get_secret_value()}"
    password = best.password.get_secret_value() if best.password is not None else ""
    return "Basic " + base64.b64encode(f"{best.username}:{password}".encode()).decode("ascii")


def _userinfo_authorization(url: str) -> str | None:
    """Credentials written into the URL itself (http://user:pass@host/) become basic auth."""
    parsed = httpx.URL(url)
    if not parsed.username and not parsed.password:
        return None
    return "Basic " + base64.b64encode(f"{parsed.username}:{parsed.password}".encode()).decode("ascii")


def download(url: str, options: FetchOptions, into: BinaryIO, *, audio: bool = True) -> None:
    """Write the body at ``url`` into ``into`` as it comes, checked to be audio (unless ``audio`` is False:
    a recording source's listing); raises ``FetchError`` (retryable) or a permanent one, after which
    ``into`` holds a part."""
    start = _parse(url)
    authorization = _authorization(start, options.sources) or _userinfo_authorization(url)
    verify = httpx.create_ssl_context()  # certifi (or SSL_CERT_FILE); built once, not per request
    if options.ca_file is not None:
        verify.load_verify_locations(cafile=str(options.ca_file))
    _follow(start, authorization, options, verify, into, audio)


def _follow(
    start: httpx.URL,
    authorization: str | None,
    options: FetchOptions,
    verify: ssl.SSLContext,
    into: BinaryIO,
    audio: bool,
) -> None:
    """The request and its redirects, each target checked before it is connected to."""
    deadline = time.monotonic() + options.download_timeout
    url, trusted = start, True
    for _hop in range(options.max_redirects + 1):
        result = _request(url, authorization if trusted else None, options, verify, deadline, into, audio)
        if result is None:
            return
        try:
            joined = url.join(result)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise PermanentFetchError(f"{describe(str(url))} redirects to an invalid URL: {exc}") from exc
        target = _parse(str(joined))
        trusted = trusted and _origin(target) == _origin(start)  # no credentials once the chain left
        if trusted:
            authorization = _authorization(target, options.sources) or authorization
        log.debug("following redirect", source=describe(str(url)), to=describe(str(target)))
        url = target
    raise PermanentFetchError(f"more than {options.max_redirects} redirects from {describe(str(start))}")


def _request(
    url: httpx.URL,
    authorization: str | None,
    options: FetchOptions,
    verify: ssl.SSLContext,
    deadline: float,
    into: BinaryIO,
    audio: bool,
) -> str | None:
    """GET ``url`` at one of its checked addresses: the body written into ``into`` (None), or the Location
    of a redirect."""
    addresses = options.policy.resolve(url.raw_host.decode("ascii"), url.port or _default_port(url))
    failure: httpx.TransportError | None = None
    for ip in addresses:
        try:
            return _exchange(url, ip, authorization, options, verify, deadline, into, audio)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # nothing was sent: try the next address
            certificate = _certificate_error(exc)
            if certificate is not None:
                raise PermanentFetchError(
                    f"the TLS certificate of {url.host} is not valid: {certificate.verify_message}"
                ) from exc
            failure = exc
    raise FetchError(f"cannot reach {describe(str(url))}: {failure}") from failure


def _exchange(
    url: httpx.URL,
    ip: IPAddress,
    authorization: str | None,
    options: FetchOptions,
    verify: ssl.SSLContext,
    deadline: float,
    into: BinaryIO,
    audio: bool,
) -> str | None:
    headers = {
        "Host": url.netloc.decode("ascii"),
        "User-Agent": "callsense",
        "Accept": "audio/*, */*;q=0.1" if audio else "application/json",
        "Accept-Encoding": "identity",  # a compressed body would be decompressed before it is counted
    }
    if authorization is not None:
        headers["Authorization"] = authorization
    extensions = {"sni_hostname": url.raw_host.decode("ascii")} if url.scheme == "https" else {}
    timeout = httpx.Timeout(options.read_timeout, connect=options.connect_timeout)
    # A fresh client per request: pooled connections are keyed by address, and a TLS connection verified
    # for one host name must not be reused for another name on the same address. No proxies from the
    # environment either: a proxy would resolve the name again, outside these checks.
    with httpx.Client(timeout=timeout, verify=verify, trust_env=False, follow_redirects=False) as client:
        request = client.build_request(
            "GET", url.copy_with(host=str(ip)), headers=headers, extensions=extensions
        )
        try:
            response = client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise
        except httpx.TimeoutException as exc:
            raise FetchError(f"timed out fetching {describe(str(url))}") from exc
        except httpx.TransportError as exc:
            raise FetchError(f"cannot fetch {describe(str(url))}: {exc}") from exc
        try:
            return _read(url, response, options, deadline, into, audio)
        except httpx.TimeoutException as exc:
            raise FetchError(f"timed out reading {describe(str(url))}") from exc
        except httpx.TransportError as exc:
            raise FetchError(f"the download of {describe(str(url))} broke off: {exc}") from exc
        finally:
            response.close()


def _read(
    url: httpx.URL,
    response: httpx.Response,
    options: FetchOptions,
    deadline: float,
    into: BinaryIO,
    audio: bool,
) -> str | None:
    status = response.status_code
    shown = describe(str(url))
    if status in REDIRECTS:
        location = response.headers.get("location")
        if not location:
            raise StatusError(f"{shown} answered {status} without a Location", status=status)
        return str(location)
    if is_retryable(status):
        raise RetryableStatusError(
            f"the recording server answered {status} for {shown}",
            status=status,
            retry_after=retry_after_s(response),
        )
    if status != 200:
        raise StatusError(f"the recording server answered {status} for {shown}", status=status)
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > options.max_bytes:
        raise BadAudioError(f"the recording is {int(declared)} bytes, over the limit of {options.max_bytes}")
    head = bytearray()  # the first bytes, to sniff
    sniffed = not audio
    size = 0
    for chunk in response.iter_raw(CHUNK):
        size += len(chunk)
        if size > options.max_bytes:
            raise BadAudioError(f"the recording is over the limit of {options.max_bytes} bytes")
        if not sniffed:
            head += chunk[: SNIFFED - len(head)]
            if len(head) >= SNIFF_BYTES:
                require_audio(bytes(head), origin="the server returned")
                sniffed = True
        into.write(chunk)
        if time.monotonic() > deadline:
            raise FetchError(f"the download of {shown} took longer than {options.download_timeout:g} s")
    if not sniffed:  # under SNIFF_BYTES in all
        require_audio(bytes(head), origin="the server returned")
    return None


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80


def _certificate_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    seen: BaseException | None = exc
    for _depth in range(10):
        if seen is None or isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
