"""The recording fetcher against real HTTP(S) servers on 127.0.0.1 and 127.0.0.2.

Every test runs under a guard that records each socket connect and blocks any to a non-loopback address,
so a missing check fails a test instead of sending traffic off this machine. Refusals must come from the
address check itself: the refused tests assert that no connection was even attempted.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import io
import ipaddress
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr, ValidationError

from callsense.backends import recordings
from callsense.backends.recordings.http import FetchOptions
from callsense.backends.recordings.ssrf import AddressPolicy, refusal
from callsense.config import Settings
from callsense.config.fetch import FetchSettings, SourceAuth, SourceAuthKind
from callsense.errors import (
    AddressRefusedError,
    BadAudioError,
    FetchError,
    PermanentFetchError,
    RetryableStatusError,
    StatusError,
)
from tests.conftest import AUDIO

FLAC = (AUDIO / "en_short.mono.flac").read_bytes()
ENDLESS_TOTAL = 64 * 1024 * 1024
LOOPBACK = AddressPolicy.build(allow_networks=["127.0.0.0/8"])


@dataclass
class Recorder:
    """A recording server that misbehaves on request; it remembers every request it was sent."""

    host: str
    tls: ssl.SSLContext | None = None
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    endless_written: int = 0
    endless_done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    @property
    def base(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.seen]

    def count(self, key: str) -> int:
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            return self.counts[key]


def _handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection; a body without length ends at close

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            with recorder.lock:
                recorder.seen.append((self.path, dict(self.headers.items())))
            parts = urlsplit(self.path)
            query = {key: values[0] for key, values in parse_qs(parts.query).items()}
            route = getattr(
                self, "route_" + parts.path.rsplit("/", 1)[-1].replace(".", "_").replace("-", "_")
            )
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
                route(query)

        def send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {"Content-Length": str(len(body))}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def route_audio_flac(self, query: dict[str, str]) -> None:
            self.send(200, FLAC, {"Content-Length": str(len(FLAC)), "Content-Type": "audio/flac"})

        def route_no_length_flac(self, query: dict[str, str]) -> None:
            self.send(200, FLAC, {"Content-Type": "audio/flac"})

        def route_huge(self, query: dict[str, str]) -> None:
            self.send(200, FLAC[:1024], {"Content-Length": str(10**9), "Content-Type": "audio/flac"})

        def route_endless(self, query: dict[str, str]) -> None:
            self.send(200, FLAC[:4096], {"Content-Type": "audio/flac"})
            try:
                recorder.endless_written = 4096
                while recorder.endless_written < ENDLESS_TOTAL:
                    self.wfile.write(b"\0" * 65536)
                    recorder.endless_written += 65536
            finally:
                recorder.endless_done.set()

        def route_page(self, query: dict[str, str]) -> None:
            body = b"<!DOCTYPE html><html><body>Please log in</body></html>" * 20
            self.send(200, body, {"Content-Length": str(len(body)), "Content-Type": "audio/wav"})

        def route_json(self, query: dict[str, str]) -> None:
            self.send(200, json.dumps({"error": "recording not ready"}).encode())

        def route_redirect(self, query: dict[str, str]) -> None:
            self.send(int(query.get("status", "302")), b"", {"Location": query["to"], "Content-Length": "0"})

        def route_loop(self, query: dict[str, str]) -> None:
            step = int(query.get("n", "0"))
            self.send(302, b"", {"Location": f"/loop?n={step + 1}", "Content-Length": "0"})

        def route_flaky(self, query: dict[str, str]) -> None:
            if recorder.count(self.path) <= int(query["fail"]):
                self.send(503, b"busy")
            else:
                self.route_audio_flac(query)

        def route_missing(self, query: dict[str, str]) -> None:
            self.send(404, b"no such recording")

        def route_slow(self, query: dict[str, str]) -> None:
            if recorder.count(self.path) == 1:
                time.sleep(1.0)
            self.route_audio_flac(query)

    return Handler


def _serve(recorder: Recorder) -> Iterator[Recorder]:
    server = ThreadingHTTPServer((recorder.host, 0), _handler(recorder))
    server.daemon_threads = True
    if recorder.tls is not None:
        server.socket = recorder.tls.wrap_socket(server.socket, server_side=True)
    recorder.server = server
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    yield from _serve(Recorder("127.0.0.1"))


@pytest.fixture
def other() -> Iterator[Recorder]:
    """A second server on another host name (127.0.0.2), for cross-host redirects."""
    yield from _serve(Recorder("127.0.0.2"))


@pytest.fixture(autouse=True)
def connects(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every address a socket connects to; anything but loopback is blocked and fails the test."""
    attempted: list[str] = []
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> None:
        host = str(address[0]) if isinstance(address, tuple) else str(address)
        attempted.append(host)
        if not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            raise OSError(f"test guard: connection to {host} blocked")
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        raise OSError("test guard: connect_ex is not expected")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield attempted
    assert all(ipaddress.ip_address(host.split("%")[0]).is_loopback for host in attempted)


def options(**changes: Any) -> FetchOptions:
    base = FetchOptions(
        max_bytes=10_000_000,
        connect_timeout=2.0,
        read_timeout=2.0,
        policy=LOOPBACK,
    )
    return replace(base, **changes)


def read_source(source: str, options: FetchOptions, *, local_files: bool = True) -> bytes:
    spool = io.BytesIO()
    recordings.SourceReader(options).spool(source, local_files=local_files, into=spool)
    return spool.getvalue()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- success and the address policy -------------------------------------------------------------------


def test_downloads_audio_from_an_allowlisted_server(recorder: Recorder) -> None:
    assert read_source(recorder.base + "/audio.flac?sig=abc", options()) == FLAC
    assert read_source(recorder.base + "/no-length.flac", options()) == FLAC
    path, headers = recorder.seen[0]
    assert path == "/audio.flac?sig=abc"
    assert headers["Host"] == f"127.0.0.1:{recorder.port}" and "Authorization" not in headers


def test_loopback_is_refused_unless_allowlisted(recorder: Recorder, connects: list[str]) -> None:
    with pytest.raises(AddressRefusedError, match=r"127\.0\.0\.1, a loopback address"):
        read_source(recorder.base + "/audio.flac", options(policy=AddressPolicy()))
    assert recorder.seen == [] and connects == []


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/x",
        "http://172.16.5.4/x",
        "http://192.168.1.10/x",
        "http://169.254.169.254/latest/meta-data",
        "http://100.100.100.200/latest/meta-data",
        "http://[fd00:ec2::254]/latest/meta-data",
        "http://100.64.0.1/x",
        "http://0.0.0.0:{port}/audio.flac",
        "http://[::]:{port}/audio.flac",
        "http://[::1]:{port}/audio.flac",
        "http://[::ffff:127.0.0.1]:{port}/audio.flac",
        "http://[::ffff:10.0.0.1]/x",
        "http://[2002:7f00:1::]/x",
        "http://[fe80::1]/x",
        "http://[fc00::1]/x",
        "http://224.0.0.1/x",
        "http://2130706433:{port}/audio.flac",
        "http://0x7f.0.0.1:{port}/audio.flac",
        "http://017700000001:{port}/audio.flac",
        "http://127.1:{port}/audio.flac",
        "http://localhost:{port}/audio.flac",
        "https://localhost:{port}/audio.flac",
    ],
)
def test_non_public_addresses_are_refused_before_connecting(
    recorder: Recorder, connects: list[str], url: str
) -> None:
    with pytest.raises(AddressRefusedError, match="refusing to download"):
        read_source(url.format(port=recorder.port), options(policy=AddressPolicy()))
    assert connects == [] and recorder.seen == []


def test_metadata_stays_refused_under_a_broad_allowlist(connects: list[str]) -> None:
    broad = AddressPolicy.build(allow_networks=["169.254.0.0/16", "fd00::/8", "100.64.0.0/10"])
    for url in (
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://[fd00:ec2::254]/latest/meta-data",
        "http://100.100.100.200/latest/meta-data",
        "http://[::ffff:169.254.169.254]/latest/meta-data",
    ):
        with pytest.raises(AddressRefusedError, match="cloud metadata"):
            read_source(url, options(policy=broad))
    assert connects == []
    exact = AddressPolicy.build(allow_networks=["169.254.169.254/32"], allow_hosts=["169.254.169.254"])
    exact.check("169.254.169.254", ipaddress.ip_address("169.254.169.254"))  # only an exact entry opens it
    with pytest.raises(AddressRefusedError):
        AddressPolicy.build(allow_hosts=["169.254.169.254"]).check(
            "169.254.169.254", ipaddress.ip_address("169.254.169.254")
        )
    with pytest.raises(AddressRefusedError, match="unspecified"):
        AddressPolicy.build(allow_networks=["0.0.0.0/0"]).check("0.0.0.0", ipaddress.ip_address("0.0.0.0"))


def test_address_kinds() -> None:
    kinds = {
        "8.8.8.8": None,
        "2606:4700::1111": None,
        "127.0.0.2": "loopback",
        "10.1.2.3": "private",
        "100.64.3.4": "shared (CGNAT)",
        "169.254.1.1": "link-local",
        "169.254.169.254": "cloud metadata",
        "::ffff:192.168.0.1": "private",
        "2002:0a00:0001::": "private (wrapped in IPv6)",
        "64:ff9b::7f00:1": "loopback (wrapped in IPv6)",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2": "private (wrapped in IPv6)",  # Teredo
    }
    assert {ip: refusal(ipaddress.ip_address(ip)) for ip in kinds} == kinds
    for other in ("240.0.0.1", "192.0.2.1", "198.18.0.1", "255.255.255.255", "::7f00:1", "2001:db8::1"):
        assert refusal(ipaddress.ip_address(other)) is not None, other


def test_mapped_address_is_checked_as_ipv4_and_allowlisted_hosts_work(recorder: Recorder) -> None:
    mapped = f"http://[::ffff:127.0.0.1]:{recorder.port}/audio.flac"
    assert read_source(mapped, options()) == FLAC  # 127.0.0.0/8 covers its IPv4 form
    by_name = AddressPolicy.build(allow_hosts=["127.0.0.1"])
    assert read_source(recorder.base + "/audio.flac", options(policy=by_name)) == FLAC


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/x.wav", "gopher://127.0.0.1/", "dict://127.0.0.1:11211/"]
)
def test_other_schemes_are_refused(url: str, connects: list[str]) -> None:
    with pytest.raises(PermanentFetchError, match="unsupported URL scheme"):
        read_source(url, options())
    assert connects == []


def test_resolved_address_is_the_one_connected_to(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch, connects: list[str]
) -> None:
    """DNS rebinding: the name answers 127.0.0.1 to the check, then 10.9.9.9; only the first is used."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def rebinding(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "recorder.test":
            return real(host, port, *args, **kwargs)
        asked.append(host)
        address = "127.0.0.1" if len(asked) == 1 else "10.9.9.9"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = f"http://recorder.test:{recorder.port}/audio.flac"
    assert read_source(url, options()) == FLAC
    assert asked == ["recorder.test"] and connects == ["127.0.0.1"]
    assert recorder.seen[0][1]["Host"] == f"recorder.test:{recorder.port}"


# --- redirects -------------------------------------------------------------------------------------------


def test_redirect_to_a_private_address_is_refused(recorder: Recorder, connects: list[str]) -> None:
    for target in ("http://10.1.2.3/x", "http://169.254.169.254/latest/meta-data", "file:///etc/passwd"):
        with pytest.raises(PermanentFetchError):
            read_source(f"{recorder.base}/redirect?to={target}", options())
    assert len(recorder.seen) == 3 and set(connects) == {"127.0.0.1"}


def test_redirect_on_the_same_server_is_followed(recorder: Recorder) -> None:
    for status in (301, 302, 303, 307, 308):
        url = f"{recorder.base}/redirect?status={status}&to=/files/audio.flac"
        assert read_source(url, options()) == FLAC
    assert recorder.paths()[:2] == ["/redirect?status=301&to=/files/audio.flac", "/files/audio.flac"]


def test_too_many_redirects(recorder: Recorder) -> None:
    with pytest.raises(PermanentFetchError, match="more than 5 redirects"):
        read_source(f"{recorder.base}/loop", options())
    assert len(recorder.seen) == 6
    with pytest.raises(PermanentFetchError, match="more than 0 redirects"):
        read_source(f"{recorder.base}/loop", options(max_redirects=0))


# --- size, content, retries ------------------------------------------------------------------------------


def test_declared_oversized_body_is_refused_without_retry(recorder: Recorder) -> None:
    with pytest.raises(BadAudioError, match="1000000000 bytes, over the limit"):
        read_source(recorder.base + "/huge", options())
    with pytest.raises(BadAudioError, match="over the limit of 1000"):
        read_source(recorder.base + "/audio.flac", options(max_bytes=1000))
    assert len(recorder.seen) == 2


def test_undeclared_oversized_body_stops_early(recorder: Recorder) -> None:
    with pytest.raises(BadAudioError, match="over the limit of 200000 bytes"):
        read_source(recorder.base + "/endless", options(max_bytes=200_000))
    assert recorder.endless_done.wait(10)
    assert recorder.endless_written < ENDLESS_TOTAL
    assert len(recorder.seen) == 1


@pytest.mark.parametrize(("route", "what"), [("page", "an HTML page"), ("json", "JSON")])
def test_non_audio_body_is_refused(recorder: Recorder, route: str, what: str) -> None:
    with pytest.raises(BadAudioError, match=f"the server returned {what} instead of audio"):
        read_source(f"{recorder.base}/{route}", options())
    assert len(recorder.seen) == 1


def test_a_server_error_is_one_retryable_failure_per_call(recorder: Recorder) -> None:
    # The job queue retries; a download that answers 503 is one request per job run, not a burst of them.
    for run in range(1, 4):
        with pytest.raises(RetryableStatusError) as raised:
            read_source(recorder.base + "/flaky?fail=3", options())
        assert raised.value.status == 503 and raised.value.retryable
        assert recorder.paths() == ["/flaky?fail=3"] * run
    assert read_source(recorder.base + "/flaky?fail=3", options()) == FLAC
    assert len(recorder.paths()) == 4


def test_client_errors_are_not_retried(recorder: Recorder) -> None:
    with pytest.raises(StatusError, match="answered 404") as raised:
        read_source(recorder.base + "/missing", options())
    assert raised.value.status == 404 and not raised.value.retryable
    assert recorder.paths() == ["/missing"]


def test_read_timeout_is_a_retryable_failure(recorder: Recorder) -> None:
    with pytest.raises(FetchError, match="timed out") as raised:
        read_source(recorder.base + "/slow", options(read_timeout=0.3))
    assert raised.value.retryable and recorder.paths() == ["/slow"]
    assert read_source(recorder.base + "/slow", options(read_timeout=0.3)) == FLAC


def test_connection_refused_is_reported_as_retryable(connects: list[str]) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError, match="cannot reach") as raised:
        read_source(f"http://127.0.0.1:{port}/audio.flac", options())
    assert raised.value.retryable and connects == ["127.0.0.1"]


# --- credentials ------------------------------------------------------------------------------------------


def test_credentials_go_to_the_longest_matching_prefix(recorder: Recorder) -> None:
    sources = (
        SourceAuth(url_prefix=recorder.base, kind=SourceAuthKind.bearer, token=SecretStr("t0ken")),
        SourceAuth(
            url_prefix=recorder.base + "/Accounts/AC1/",
            kind=SourceAuthKind.basic,
            username="AC1",
            password=SecretStr("s3cret"),
        ),
    )
    for path in ("/Accounts/AC1/Recordings/audio.flac", "/Accounts/AC12/audio.flac", "/audio.flac"):
        assert read_source(recorder.base + path, options(sources=sources)) == FLAC
    sent = [headers.get("Authorization") for _, headers in recorder.seen]
    assert sent == [basic("AC1", "s3cret"), "Bearer t0ken", "Bearer t0ken"]
    other_port = SourceAuth(
        url_prefix="http://127.0.0.1:1/", kind=SourceAuthKind.bearer, token=SecretStr("x")
    )
    read_source(recorder.base + "/audio.flac", options(sources=(other_port,)))
    assert "Authorization" not in recorder.seen[-1][1]


def test_credentials_are_not_sent_across_hosts(recorder: Recorder, other: Recorder) -> None:
    sources = (SourceAuth(url_prefix=recorder.base, kind=SourceAuthKind.bearer, token=SecretStr("t0ken")),)
    same = f"{recorder.base}/redirect?to=/audio.flac"
    assert read_source(same, options(sources=sources)) == FLAC
    assert [h.get("Authorization") for _, h in recorder.seen] == ["Bearer t0ken"] * 2
    away = f"{recorder.base}/redirect?to={other.base}/redirect?to={recorder.base}/audio.flac"
    assert read_source(away, options(sources=sources)) == FLAC
    assert [h.get("Authorization") for _, h in recorder.seen[2:]] == ["Bearer t0ken", None]
    assert [h.get("Authorization") for _, h in other.seen] == [None]


def test_credentials_in_the_url_become_basic_auth(recorder: Recorder) -> None:
    url = f"http://AC9:p%40ss@127.0.0.1:{recorder.port}/audio.flac?token=abc"
    assert read_source(url, options()) == FLAC
    assert recorder.seen[0][1]["Authorization"] == basic("AC9", "p@ss")
    assert recordings.describe(url) == f"http://127.0.0.1:{recorder.port}/audio.flac"
    assert recordings.describe("https://u:p@[::1]:8443/r.wav?x=1") == "https://[::1]:8443/r.wav"


# --- TLS: the checked address is connected to, the certificate checked against the name -----------------


def _certificates(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "callsense test CA")])
    ca = (
        x509.CertificateBuilder(subject_name=ca_name, issuer_name=ca_name, public_key=ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder(
            subject_name=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "recorder.test")]),
            issuer_name=ca_name,
            public_key=key.public_key(),
        )
        .serial_number(2)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("recorder.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "leaf.pem").write_bytes(
        leaf.public_bytes(pem)
        + key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "leaf.pem")
    return server, tmp_path / "ca.pem"


@pytest.fixture
def tls_recorder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Recorder, Path]]:
    context, ca_file = _certificates(tmp_path)
    real = socket.getaddrinfo

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "recorder.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    for recorder in _serve(Recorder("127.0.0.1", tls=context)):
        yield recorder, ca_file


def test_https_uses_the_host_name_for_sni_and_certificate(tls_recorder: tuple[Recorder, Path]) -> None:
    recorder, ca_file = tls_recorder
    url = f"https://recorder.test:{recorder.port}/audio.flac"
    assert read_source(url, options(ca_file=ca_file)) == FLAC
    assert recorder.seen[0][1]["Host"] == f"recorder.test:{recorder.port}"
    with pytest.raises(PermanentFetchError, match=r"TLS certificate of recorder\.test is not valid"):
        read_source(url, options())  # not signed by a CA we trust
    with pytest.raises(PermanentFetchError, match=r"TLS certificate of 127\.0\.0\.1 is not valid"):
        read_source(f"https://127.0.0.1:{recorder.port}/audio.flac", options(ca_file=ca_file))
    assert len(recorder.seen) == 1


# --- local files, settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"<html><body>oops</body></html>", "the file holds an HTML page instead of audio"),
        (b"just some notes\n" * 10, "the file holds text instead of audio"),
        (b"\x00\x01\x02\x03" * 10, "unknown binary data"),
    ],
)
def test_local_files_are_sniffed(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "call.wav"
    path.write_bytes(content)
    with pytest.raises(BadAudioError, match=message):
        read_source(str(path), options())


def test_a_directory_is_not_a_missing_file(tmp_path: Path) -> None:
    (tmp_path / "calls").mkdir()
    with pytest.raises(PermanentFetchError, match=r"calls is a directory, not a recording file"):
        read_source(str(tmp_path / "calls"), options())


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_a_permanent_failure(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    path.write_bytes((AUDIO / "en_short.wav").read_bytes())
    path.chmod(0)
    with pytest.raises(PermanentFetchError, match=r"cannot read .*call\.wav: Permission denied"):
        read_source(str(path), options())


def test_local_files_can_be_turned_off() -> None:
    with pytest.raises(PermanentFetchError, match="local files are not read"):
        read_source(str(AUDIO / "en_short.wav"), options(), local_files=False)


@pytest.mark.parametrize("name", ["en_short.wav", "en_short.mp3", "en_short.ogg", "en_short.m4a"])
def test_local_audio_formats_are_recognised(name: str) -> None:
    assert read_source(str(AUDIO / name), options()) == (AUDIO / name).read_bytes()


def test_options_from_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        max_file_bytes=1234,
        fetch=FetchSettings(
            connect_timeout_s=2.5,
            allow_hosts=["Recorder.Corp.Example."],
            allow_networks=["10.20.0.1/16"],
            sources=[
                SourceAuth(
                    url_prefix="https://api.twilio.com/2010-04-01/Accounts/AC1",
                    kind=SourceAuthKind.basic,
                    username="AC1",
                    password=SecretStr("s3cr3t-value"),
                )
            ],
        ),
    )
    built = FetchOptions.from_settings(settings)
    assert (built.max_bytes, built.connect_timeout) == (1234, 2.5)
    assert built.policy.allow_hosts == frozenset({"recorder.corp.example"})
    assert built.policy.allow_networks == (ipaddress.ip_network("10.20.0.0/16"),)
    assert "s3cr3t" not in repr(built)
    built.policy.check("recorder.corp.example", ipaddress.ip_address("192.168.1.1"))
    with pytest.raises(AddressRefusedError):
        built.policy.check("other.example", ipaddress.ip_address("10.21.0.1"))


@pytest.mark.parametrize(
    "entry",
    [
        {"url_prefix": "https://x.example/", "kind": "basic", "username": "u"},
        {"url_prefix": "https://x.example/", "kind": "bearer"},
        {"url_prefix": "ftp://x.example/", "kind": "bearer", "token": "t"},
        {"url_prefix": "https://u:p@x.example/", "kind": "bearer", "token": "t"},
    ],
)
def test_incomplete_source_auth_is_refused(entry: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        SourceAuth.model_validate(entry)
