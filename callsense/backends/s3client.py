"""A boto3 S3 client from callsense's settings, shared by the S3 blob store and the S3 recording source."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from callsense.config.s3 import S3Access


def make_client(settings: S3Access, *, pool_connections: int = 10) -> Any:
    """A client of its own (the default boto3 session is not thread-safe), thread-safe itself; credentials
    from the settings, else the standard AWS chain (environment, profile, instance role)."""
    secret = settings.secret_access_key
    proxy = settings.proxy_url
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret is not None else None,
        verify=str(settings.ca_bundle) if settings.ca_bundle is not None else None,
        config=Config(
            s3={"addressing_style": settings.addressing_style.value},
            # an empty mapping, not None: None would make botocore read HTTP(S)_PROXY from the environment
            proxies={"http": proxy, "https": proxy} if proxy else {},
            connect_timeout=settings.connect_timeout_s,
            read_timeout=settings.read_timeout_s,
            retries={"mode": "standard", "max_attempts": settings.max_attempts},
            max_pool_connections=pool_connections,
        ),
    )
