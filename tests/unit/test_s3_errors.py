"""How the S3 store translates the answers a real server seldom gives on demand (5xx, throttling, odd 4xx),
with botocore's own Stubber in place of the server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from callsense.backends.blobstore.s3 import S3BlobStore
from callsense.errors import BlobStoreRefusedError, BlobStoreUnavailableError, CallsenseError, NotFoundError


@pytest.fixture
def stubbed() -> Iterator[tuple[S3BlobStore, Stubber]]:
    client: Any = boto3.session.Session().client(
        "s3",
        endpoint_url="http://s3.invalid",
        region_name="us-east-1",
        aws_access_key_id="key",
        aws_secret_access_key="secret",
        config=Config(retries={"mode": "standard", "max_attempts": 1}, proxies={}),
    )
    with Stubber(client) as stubber:
        yield S3BlobStore(client, bucket="archive", prefix="p/"), stubber


@pytest.mark.parametrize(
    ("code", "status", "error", "message"),
    [
        ("SlowDown", 503, BlobStoreUnavailableError, "unavailable: HTTP 503 SlowDown"),
        ("InternalError", 500, BlobStoreUnavailableError, "unavailable: HTTP 500 InternalError"),
        ("RequestTimeout", 408, BlobStoreUnavailableError, "unavailable: HTTP 408"),
        ("NoSuchKey", 404, NotFoundError, "no blob 'k'"),
        ("NoSuchBucket", 404, BlobStoreRefusedError, "'archive' at http://s3.invalid does not exist"),
        ("AccessDenied", 403, BlobStoreRefusedError, "refused access \\(AccessDenied"),
        ("InvalidArgument", 400, BlobStoreRefusedError, "refused the request: HTTP 400 InvalidArgument"),
        ("PreconditionFailed", 412, BlobStoreUnavailableError, "blob 'k' was replaced while being read"),
    ],
)
def test_get_errors_are_translated(
    stubbed: tuple[S3BlobStore, Stubber], code: str, status: int, error: type[CallsenseError], message: str
) -> None:
    store, stubber = stubbed
    stubber.add_client_error("get_object", service_error_code=code, http_status_code=status)
    with pytest.raises(error, match=message) as raised:
        store.open("k")
    assert raised.value.retryable is (error is BlobStoreUnavailableError)
    stubber.assert_no_pending_responses()
