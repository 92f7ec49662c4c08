"""Fixtures the unit tests of the key ring share: a ring whose calls' data keys come from a dictionary."""

from __future__ import annotations

import pytest

from callsense.crypto import KeyRing
from tests.data_keys import DictDataKeys


@pytest.fixture
def data_keys() -> DictDataKeys:
    return DictDataKeys()


@pytest.fixture
def ring(data_keys: DictDataKeys) -> KeyRing:
    ring = KeyRing.generate()
    ring.use_data_keys(data_keys)
    return ring
