"""Data keys from a dictionary, for the key ring's unit tests (``tests/integration/test_envelope.py`` runs the
real store on PostgreSQL)."""

from __future__ import annotations

import uuid

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from callsense.errors import DataKeyDestroyedError, DecryptionError


class DictDataKeys:
    def __init__(self) -> None:
        self.keys: dict[uuid.UUID, bytes | None] = {}

    def key_for(self, call: uuid.UUID, *, create: bool) -> bytes:
        if call not in self.keys:
            if not create:
                raise DecryptionError(f"call {call} has no data key")
            self.keys[call] = AESGCM.generate_key(bit_length=256)
        key = self.keys[call]
        if key is None:
            raise DataKeyDestroyedError(f"the data key of call {call} was destroyed")
        return key
