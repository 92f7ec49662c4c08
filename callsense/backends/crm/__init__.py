"""CRM destinations: one port (``base.Destination``) and an adapter per CRM, chosen by the settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from callsense.backends.crm.base import Destination, Destinations, Outgoing, Receipt
from callsense.backends.http_deadline import DeadlineTransport
from callsense.config.deliveries import DestinationKind, DestinationSettings

__all__ = [
    "Destination",
    "Destinations",
    "HTTPDestinations",
    "Outgoing",
    "Receipt",
    "build_destination",
    "http_client",
]


def _secret(value: object) -> str:
    from pydantic import SecretStr

    assert isinstance(value, SecretStr), "settings validation guarantees the credential"
    return value.get_secret_value()


def http_client(settings: DestinationSettings) -> httpx.Client:
    """The client a delivery to ``settings`` goes through. ``trust_env=False``: an ``HTTP(S)_PROXY`` variable
    must not route call content through a third party; a proxy is used only when the destination names one.
    ``timeout_s`` bounds each request as a whole (``http_deadline.py``)."""
    # The proxy goes to the transport: a client's own proxy would be mounted ahead of the deadline.
    transport = DeadlineTransport(settings.timeout_s, httpx.HTTPTransport(proxy=settings.proxy_url))
    return httpx.Client(timeout=settings.timeout_s, trust_env=False, transport=transport)


def build_destination(settings: DestinationSettings, client: httpx.Client) -> Destination:
    """The adapter for ``settings.kind``, sending through ``client``."""
    from callsense.backends.crm import bottlecrm, dynamics, hubspot, salesforce, webhook

    if settings.kind is DestinationKind.webhook:
        return webhook.WebhookDestination(
            client=client, url=settings.base_url, secret=_secret(settings.secret)
        )
    client.headers["authorization"] = f"Bearer {_secret(settings.token)}"
    if settings.kind is DestinationKind.bottlecrm:
        return bottlecrm.BottleCRMDestination(client=client, settings=settings)
    if settings.kind is DestinationKind.hubspot:
        return hubspot.HubSpotDestination(client=client, settings=settings)
    if settings.kind is DestinationKind.salesforce:
        return salesforce.SalesforceDestination(client=client, settings=settings)
    return dynamics.DynamicsDestination(client=client, settings=settings)


class HTTPDestinations:
    """The real CRMs: each delivery gets its own HTTP client, closed after it."""

    @contextmanager
    def connect(self, settings: DestinationSettings) -> Iterator[Destination]:
        with http_client(settings) as client:
            yield build_destination(settings, client)
