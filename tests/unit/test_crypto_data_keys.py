"""The key ring with data keys (envelope encryption): which contexts go under a call's data key, the format,
the binding to call and field, and ciphertexts of either format opening side by side. The data keys come
from a dictionary here; ``tests/integration/test_envelope.py`` runs the real store on PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from callsense.crypto import KeyRing
from callsense.errors import DataKeyDestroyedError, DecryptionError
from tests.data_keys import DictDataKeys

SECRET = b"card number 4111 1111 1111 1111"
FIRST, SECOND = uuid.UUID(int=1), uuid.UUID(int=2)


def test_a_call_context_is_sealed_under_that_calls_data_key(ring: KeyRing, data_keys: DictDataKeys) -> None:
    sealed = ring.encrypt(SECRET, context=f"call:{FIRST}:segments")
    assert sealed[0] == 2 and ring.key_id_of(sealed) is None and not ring.needs_rotation(sealed)
    assert ring.decrypt(sealed, context=f"call:{FIRST}:segments") == SECRET
    assert set(data_keys.keys) == {FIRST}
    ring.encrypt(SECRET, context=f"call:{SECOND}:segments")
    assert data_keys.keys[FIRST] != data_keys.keys[SECOND]


def test_a_data_key_ciphertext_is_bound_to_its_call_and_field(ring: KeyRing) -> None:
    sealed = ring.encrypt(SECRET, context=f"call:{FIRST}:segments")
    ring.encrypt(SECRET, context=f"call:{SECOND}:segments")  # the second call has a key too
    for elsewhere in (f"call:{SECOND}:segments", f"call:{FIRST}:analysis"):
        with pytest.raises(DecryptionError):
            ring.decrypt(sealed, context=elsewhere)
    with pytest.raises(DecryptionError, match="truncated"):
        ring.decrypt(sealed[:20], context=f"call:{FIRST}:segments")


def test_other_contexts_and_older_ciphertexts_stay_with_the_ring_key(ring: KeyRing) -> None:
    plain = KeyRing.from_export(ring.export(), source="the test")  # the same keys, no data keys: as before
    older = plain.encrypt(SECRET, context=f"call:{FIRST}:segments")
    assert ring.key_id_of(older) == ring.active_key_id
    assert ring.decrypt(older, context=f"call:{FIRST}:segments") == SECRET
    assert ring.reencrypt(older, context=f"call:{FIRST}:segments")[0] == 2  # the migration's step
    other = ring.encrypt(SECRET, context="backup:manifest")
    assert ring.key_id_of(other) == ring.active_key_id


def test_a_data_key_ciphertext_needs_a_ring_with_data_keys(ring: KeyRing) -> None:
    sealed = ring.encrypt(SECRET, context=f"call:{FIRST}:segments")
    plain = KeyRing.from_export(ring.export(), source="the test")
    with pytest.raises(DecryptionError, match="given no data keys"):
        plain.decrypt(sealed, context=f"call:{FIRST}:segments")


def test_a_destroyed_data_key_is_named_as_the_reason(ring: KeyRing, data_keys: DictDataKeys) -> None:
    sealed = ring.encrypt(SECRET, context=f"call:{FIRST}:audio")
    data_keys.keys[FIRST] = None
    with pytest.raises(DataKeyDestroyedError, match="destroyed"):
        ring.decrypt(sealed, context=f"call:{FIRST}:audio")
