from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from callsense import crypto, tempfiles
from callsense.cli import doctor
from callsense.config import Settings
from callsense.crypto import KeyRing
from callsense.errors import ConfigError, DecryptionError

SECRET = b"card number 4111 1111 1111 1111, date of birth 1970-01-01"
CONTEXT = "call:0b7e1a8e-2f0c-4b8e-9d51-3a4c7c1f2e90:transcript"


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.generate()


@pytest.fixture
def open_umask() -> Iterator[None]:
    # the most permissive umask: file modes must come from the code, not from the environment
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _write_key_file(path: Path, doc: object, mode: int = 0o600) -> None:
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    path.chmod(mode)


# --- encryption ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("plaintext", [SECRET, b"", bytes(range(256)) * 1000])
def test_round_trip(ring: KeyRing, plaintext: bytes) -> None:
    assert ring.decrypt(ring.encrypt(plaintext, context=CONTEXT), context=CONTEXT) == plaintext


def test_text_round_trip(ring: KeyRing) -> None:
    text = "Grüße, 你好 — the customer's address is 1 Main St"
    assert ring.decrypt_text(ring.encrypt_text(text, context=CONTEXT), context=CONTEXT) == text


def test_envelope_hides_plaintext_and_is_self_describing(ring: KeyRing) -> None:
    first = ring.encrypt(SECRET, context=CONTEXT)
    second = ring.encrypt(SECRET, context=CONTEXT)
    assert SECRET not in first and b"4111" not in first
    assert first != second  # a fresh nonce each time
    assert first[0] == 1
    assert ring.key_id_of(first) == ring.active_key_id
    assert len(first) == 2 + len(ring.active_key_id) + 12 + len(SECRET) + 16


def test_wrong_context_fails(ring: KeyRing) -> None:
    sealed = ring.encrypt(SECRET, context=CONTEXT)
    with pytest.raises(DecryptionError) as info:
        ring.decrypt(sealed, context="call:0b7e1a8e-2f0c-4b8e-9d51-3a4c7c1f2e90:summary")
    assert ring.active_key_id in str(info.value)
    assert "4111" not in str(info.value)


@pytest.mark.parametrize("where", ["version", "key id length", "nonce", "body", "tag"])
def test_tampered_ciphertext_fails(ring: KeyRing, where: str) -> None:
    sealed = bytearray(ring.encrypt(SECRET, context=CONTEXT))
    nonce_at = 2 + len(ring.active_key_id)
    index = {"version": 0, "key id length": 1, "nonce": nonce_at, "body": nonce_at + 12 + 5, "tag": -1}[where]
    sealed[index] ^= 0x01
    with pytest.raises(DecryptionError):
        ring.decrypt(bytes(sealed), context=CONTEXT)


def test_relabelled_key_id_fails() -> None:
    # the same key under two ids: only the header's place in the associated data can catch the relabelling
    key = os.urandom(32)
    ring = KeyRing({"a": key, "b": key}, "a")
    sealed = ring.encrypt(SECRET, context=CONTEXT)
    forged = b"\x01\x01b" + sealed[3:]
    assert ring.key_id_of(forged) == "b"
    with pytest.raises(DecryptionError, match="'b'"):
        ring.decrypt(forged, context=CONTEXT)


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x01", b"\x04\x04abcd" + bytes(40), b"\x01\x04abcd" + bytes(20), b"\x03\x04abcd" + bytes(30)],
)
def test_truncated_or_foreign_envelope_fails(ring: KeyRing, garbage: bytes) -> None:
    with pytest.raises(DecryptionError):
        ring.decrypt(garbage, context=CONTEXT)
    with pytest.raises(DecryptionError):
        ring.key_id_of(garbage)


def test_unknown_key_id_fails(ring: KeyRing) -> None:
    stranger = KeyRing.generate()
    sealed = stranger.encrypt(SECRET, context=CONTEXT)
    with pytest.raises(DecryptionError, match=stranger.active_key_id):
        ring.decrypt(sealed, context=CONTEXT)


def test_repr_shows_ids_not_keys(tmp_path: Path) -> None:
    ring = KeyRing.load_or_create(tmp_path / "keys.json")
    ring.rotate()
    doc = json.loads((tmp_path / "keys.json").read_text())
    text = repr(ring)
    for key_id, encoded in doc["keys"].items():
        assert key_id in text
        assert encoded not in text
        assert repr(base64.b64decode(encoded)) not in text


# --- rotation and retirement --------------------------------------------------------------------------


def test_rotation(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    ring = KeyRing.load_or_create(path)
    first = ring.active_key_id
    old = ring.encrypt(SECRET, context=CONTEXT)

    second = ring.rotate()
    assert second != first and ring.active_key_id == second
    assert ring.key_ids == {first, second}
    assert ring.decrypt(old, context=CONTEXT) == SECRET
    new = ring.encrypt(SECRET, context=CONTEXT)
    assert ring.key_id_of(new) == second
    assert ring.needs_rotation(old) and not ring.needs_rotation(new)

    moved = ring.reencrypt(old, context=CONTEXT)
    assert not ring.needs_rotation(moved)
    assert ring.decrypt(moved, context=CONTEXT) == SECRET

    # saved: a restart sees both keys and the new active one
    reloaded = KeyRing.load_or_create(path)
    assert reloaded.active_key_id == second and reloaded.key_ids == {first, second}
    assert reloaded.decrypt(old, context=CONTEXT) == SECRET
    assert _mode(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.json"]  # no temporary file left behind


def test_reencrypt_checks_context(ring: KeyRing) -> None:
    old = ring.encrypt(SECRET, context=CONTEXT)
    ring.rotate()
    with pytest.raises(DecryptionError):
        ring.reencrypt(old, context="call:other:transcript")


def test_retire_then_old_ciphertexts_fail(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    ring = KeyRing.load_or_create(path)
    first = ring.active_key_id
    old = ring.encrypt(SECRET, context=CONTEXT)
    ring.rotate()
    ring.retire(first)
    assert first not in ring.key_ids
    with pytest.raises(DecryptionError, match=first):
        ring.decrypt(old, context=CONTEXT)
    assert first not in KeyRing.load_or_create(path).key_ids


def test_retire_refuses_active_and_unknown_keys(ring: KeyRing) -> None:
    with pytest.raises(ConfigError, match="active"):
        ring.retire(ring.active_key_id)
    with pytest.raises(ConfigError, match="not in the key ring"):
        ring.retire("nope")


def test_failed_save_leaves_ring_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keys.json"
    ring = KeyRing.load_or_create(path)
    before = ring.active_key_id

    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(crypto, "_write_private", disk_full)
    with pytest.raises(ConfigError, match="cannot save key file"):
        ring.rotate()
    # nothing may be encrypted under a key that a restart would not find
    assert ring.active_key_id == before and ring.key_ids == {before}


# --- following the key file that another process rotates ---------------------------------------------


def test_a_ring_encrypts_under_the_key_another_process_rotated_to(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    service = KeyRing.load_or_create(path)  # a running worker
    old = service.active_key_id
    rotator = KeyRing.load_or_create(path)  # `callsense keys rotate --retire-old`
    new = rotator.rotate()
    rotator.retire(old)

    sealed = service.encrypt(SECRET, context=CONTEXT)
    assert service.key_id_of(sealed) == new
    assert service.key_ids == {new}
    assert KeyRing.load_or_create(path).decrypt(sealed, context=CONTEXT) == SECRET  # readable after a restart


def test_a_ring_opens_what_another_process_sealed_under_a_newer_key(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    reader = KeyRing.load_or_create(path)
    writer = KeyRing.load_or_create(path)
    writer.rotate()
    assert reader.decrypt(writer.encrypt(SECRET, context=CONTEXT), context=CONTEXT) == SECRET


def test_a_rotation_builds_on_the_file_as_it_is_now(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first, second = KeyRing.load_or_create(path), KeyRing.load_or_create(path)
    original = first.active_key_id
    made_elsewhere = second.rotate()
    latest = first.rotate()
    assert KeyRing.load_or_create(path).key_ids == {original, made_elsewhere, latest}


def test_a_ring_refuses_to_encrypt_once_its_key_file_is_gone(tmp_path: Path) -> None:
    # a key that no file holds would be lost at the next restart, and everything sealed under it
    path = tmp_path / "keys.json"
    ring = KeyRing.load_or_create(path)
    sealed = ring.encrypt(SECRET, context=CONTEXT)
    path.unlink()
    with pytest.raises(ConfigError, match="cannot open key file"):
        ring.encrypt(SECRET, context=CONTEXT)
    assert ring.decrypt(sealed, context=CONTEXT) == SECRET  # what it holds still opens


def test_a_ring_refuses_a_key_file_rewritten_badly(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    ring = KeyRing.load_or_create(path)
    _write_key_file(path, {"active": "gone", "keys": {"other": GOOD_KEY}})
    with pytest.raises(ConfigError, match="malformed"):
        ring.encrypt(SECRET, context=CONTEXT)


# --- the key file -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("open_umask")
def test_load_or_create_makes_private_file_and_dir(tmp_path: Path) -> None:
    path = tmp_path / "data" / "keys.json"
    ring = KeyRing.load_or_create(path)
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    doc = json.loads(path.read_text())
    assert doc["active"] == ring.active_key_id
    assert len(base64.b64decode(doc["keys"][ring.active_key_id])) == 32

    again = KeyRing.load_or_create(path)
    assert again.decrypt(ring.encrypt(SECRET, context=CONTEXT), context=CONTEXT) == SECRET


@pytest.mark.usefixtures("open_umask")
def test_rotate_keeps_file_private(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    KeyRing.load_or_create(path).rotate()
    assert _mode(path) == 0o600


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_refuses_key_file_others_can_read(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "keys.json"
    KeyRing.load_or_create(path)
    path.chmod(mode)
    with pytest.raises(ConfigError, match="chmod 600"):
        KeyRing.load_or_create(path)


def test_unwritable_location_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="cannot create key file"):
        KeyRing.load_or_create(tmp_path / "file" / "keys.json")


def test_refuses_a_directory(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.mkdir(mode=0o700)
    with pytest.raises(ConfigError):
        KeyRing.load_or_create(path)


GOOD_KEY = base64.b64encode(bytes(32)).decode()


@pytest.mark.parametrize(
    "doc",
    [
        "not json",
        '"a json string"',
        '{"active": "a", "keys": {"a": "AAAA"',
        [],
        {"keys": {"a": GOOD_KEY}},
        {"active": "a"},
        {"active": "a", "keys": {}},
        {"active": "b", "keys": {"a": GOOD_KEY}},
        {"active": 1, "keys": {"a": GOOD_KEY}},
        {"active": "a", "keys": {"a": "%%% not base64"}},
        {"active": "a", "keys": {"a": base64.b64encode(bytes(16)).decode()}},
        {"active": "a b", "keys": {"a b": GOOD_KEY}},
    ],
)
def test_refuses_malformed_key_file(tmp_path: Path, doc: object) -> None:
    path = tmp_path / "keys.json"
    _write_key_file(path, doc)
    with pytest.raises(ConfigError, match=r"key file .*keys\.json is malformed"):
        KeyRing.load_or_create(path)


def test_loads_a_hand_written_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    other_key = base64.b64encode(b"x" * 32).decode()
    _write_key_file(path, {"active": "k2", "keys": {"k1": GOOD_KEY, "k2": other_key}})
    ring = KeyRing.load_or_create(path)
    assert ring.active_key_id == "k2" and ring.key_ids == {"k1", "k2"}
    assert ring.key_id_of(ring.encrypt(SECRET, context=CONTEXT)) == "k2"


def test_doctor_names_the_key_ring_copies_a_killed_key_write_left(tmp_path: Path) -> None:
    # `keys rotate` killed between writing the new ring and renaming it over the key file
    settings = Settings(data_dir=tmp_path, database_url="postgresql://nobody@127.0.0.1:1/none")
    key_file = settings.resolved_key_file
    KeyRing.load_or_create(key_file)
    rotating = (
        "import os, sys, time; from pathlib import Path; from callsense.crypto import KeyRing; "
        "ring = KeyRing.load_or_create(Path(sys.argv[1])); "
        "os.replace = lambda *_: (print('written', flush=True), time.sleep(600)); ring.rotate()"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", rotating, str(key_file)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    with process.stdout:
        assert process.stdout.readline() == "written\n"
        process.kill()
        process.wait(timeout=30)
    (leftover,) = tempfiles.leftovers_of(key_file)
    assert b'"keys"' in leftover.read_bytes()  # the whole ring, in clear

    check = doctor._keys(settings)
    assert check == doctor.Check(
        "key file",
        False,
        "a write of the key file killed midway left 1 cop(ies) of the key ring in clear beside it, with the "
        f"keys it then held: delete {leftover}",
    )
    leftover.unlink()
    assert doctor._keys(settings).ok
