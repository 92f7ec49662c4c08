"""Where a backup's key ring goes (sealed inside it, or to a file kept elsewhere) and how it comes back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from callsense.backup import manifest as manifests
from callsense.crypto import KeyRing
from callsense.errors import BackupError
from callsense.security import keywrap

__all__ = ["WRAPPED_KEYS", "KeyExport", "check_key_destination", "open_key_ring"]

WRAPPED_KEYS = "keyring.wrapped.json"


@dataclass(frozen=True)
class KeyExport:
    """How the key ring leaves: sealed with ``passphrase`` inside the backup, or in clear to ``path``."""

    passphrase: str | None = None
    path: Path | None = None


def check_key_destination(keys: KeyExport, directory: Path) -> None:
    if (keys.passphrase is None) == (keys.path is None):
        raise BackupError("say where the key ring goes: a passphrase to seal it, or --key-out PATH")
    if keys.passphrase is not None:
        keywrap.check_passphrase(keys.passphrase)  # now, not after a long dump
    if keys.path is not None:
        if keys.path.resolve().is_relative_to(directory):
            raise BackupError(f"--key-out {keys.path} is inside the backup: keep the key ring elsewhere")
        if keys.path.exists():
            raise BackupError(f"--key-out {keys.path} exists already: name a new file")


def open_key_ring(
    directory: Path, found: manifests.Manifest, *, passphrase: str | None, key_file: Path | None
) -> KeyRing:
    """The key ring of the backup in ``directory``: ``key_file``, else the sealed one opened with
    ``passphrase``. ``found`` (not yet authenticated: the ring authenticates it) says which it has."""
    if key_file is not None:
        return KeyRing.from_export(_read(key_file), source=f"key file {key_file}")
    if found.key_ring.kept == "wrapped" and passphrase is not None:
        sealed = _read(directory / WRAPPED_KEYS)
        return KeyRing.from_export(keywrap.unwrap(sealed, passphrase), source="the wrapped key ring")
    if found.key_ring.kept == "wrapped":
        raise BackupError("this backup's key ring is sealed: give its passphrase")
    raise BackupError(f"this backup's key ring was written to {found.key_ring.file}: give it with --key-file")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}") from exc
