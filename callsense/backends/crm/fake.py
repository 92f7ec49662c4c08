"""A CRM in memory, for tests of the deliver stage that need no CRM server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from callsense.backends.crm.base import Destination, Outgoing, Receipt
from callsense.config.deliveries import DestinationSettings

Answer = Callable[[DestinationSettings, Outgoing], Receipt]


def _file(settings: DestinationSettings, outgoing: Outgoing) -> Receipt:
    return Receipt(external_id=f"{settings.name}-{outgoing.call_id}")


class FakeDestinations:
    """Every destination files the call under ``<destination>-<call_id>`` (or what ``answer`` returns, or
    raises); what was sent is kept in ``sent``, by destination name."""

    def __init__(self, answer: Answer = _file) -> None:
        self.answer = answer
        self.sent: list[tuple[str, Outgoing]] = []

    @contextmanager
    def connect(self, settings: DestinationSettings) -> Iterator[Destination]:
        yield _FakeDestination(self, settings)


class _FakeDestination:
    def __init__(self, owner: FakeDestinations, settings: DestinationSettings) -> None:
        self._owner = owner
        self._settings = settings

    def deliver(self, outgoing: Outgoing) -> Receipt:
        self._owner.sent.append((self._settings.name, outgoing))
        return self._owner.answer(self._settings, outgoing)
