"""The manifest of a backup (``manifest.json``): what it holds, and the SHA-256 of every file in it.

A restore checks every checksum before it touches anything, so a damaged or incomplete copy is refused
with the name of the file that is wrong rather than half restored.

The sums alone prove nothing against someone who edits a file and its sum together, so the manifest is
sealed: the SHA-256 of its canonical JSON (every field but the seal), sealed by the key ring's active key
(AES-256-GCM, ``KeyRing.encrypt``, in a context of its own). Only the key ring's holder can make a seal that
opens, so ``authenticate`` proves the manifest is the one ``backup create`` wrote. Manifests of format
``callsense-backup-1`` (before the seal) carry none, and are refused unless the caller accepts them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from callsense import tempfiles
from callsense.crypto import KeyRing
from callsense.errors import BackupError, DecryptionError

__all__ = [
    "MANIFEST",
    "UNSEALED_FORMAT",
    "FileSum",
    "KeyRingCopy",
    "Manifest",
    "authenticate",
    "checksum",
    "missing_summary",
    "read",
    "verify",
    "write",
]

MANIFEST = "manifest.json"
UNSEALED_FORMAT = "callsense-backup-1"  # made before the manifest was sealed
_SEAL_CONTEXT = "callsense-backup-manifest"  # never a call's context: always the ring's own key
_CHUNK = 1024 * 1024
_NAMED = 5  # the missing calls named on the terminal; the manifest lists them all


class FileSum(BaseModel):
    model_config = ConfigDict(frozen=True)
    sha256: str
    size: int


class KeyRingCopy(BaseModel):
    """Where the key ring went: sealed with a passphrase inside the backup, or to a file kept elsewhere."""

    model_config = ConfigDict(frozen=True)
    kept: Literal["wrapped", "elsewhere"]
    file: str | None = Field(
        description="The wrapped ring's name in the backup, or the path it was written to."
    )
    key_ids: list[str]
    active: str


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True)
    format: Literal["callsense-backup-1", "callsense-backup-2"] = "callsense-backup-2"
    created_at: datetime
    callsense_version: str
    schema_revision: str
    postgresql_server: int = Field(description="Major version of the server the dump was taken from.")
    pg_dump: int = Field(description="Major version of the pg_dump that wrote database.dump.")
    calls: int
    blobs: int
    missing_blobs: list[str] = Field(description="Blobs the database named that the blob store did not have.")
    missing_calls: list[str] | None = Field(
        default=None,
        description="The call ids of the calls whose recording is in missing_blobs (None: made before they "
        "were recorded).",
    )
    newest_change: datetime | None = Field(
        default=None,
        description="The latest time a call in the dump was added or changed (None: no calls, or made before "
        "it was recorded).",
    )
    newest_changes: dict[str, datetime] | None = Field(
        default=None,
        description="By table, the latest time a row of the other kinds a restore checks (users, "
        "api_tokens, deliveries, category_definitions) was added or changed in the dump; a kind it held "
        "none of is absent (None: made before they were recorded).",
    )
    fingerprints: dict[str, dict[str, str]] | None = Field(
        default=None,
        description="By table (users, api_tokens) and id, the SHA-256 of what can be changed in the row "
        "(its role, password hash, disabled or revoked time...): how a restore finds the rows changed or "
        "deleted since (None: made before they were recorded).",
    )
    row_keys: dict[str, list[str]] | None = Field(
        default=None,
        description="By table (category_definitions: their names), the key of every row in the dump: how a "
        "restore finds the rows deleted since (None: made before they were recorded, so those deletions go "
        "unseen).",
    )
    key_ring: KeyRingCopy
    files: dict[str, FileSum] = Field(description="Every other file of the backup, by relative path.")
    seal: str | None = Field(
        default=None,
        description="Base64 of the SHA-256 of every other field, sealed by the key ring's active key.",
    )


def checksum(path: Path) -> FileSum:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return FileSum(sha256=digest.hexdigest(), size=path.stat().st_size)


def read(directory: Path) -> Manifest:
    """The manifest as it stands, not yet authenticated: enough to say where its key ring is."""
    return _load(directory)[1]


def authenticate(directory: Path, ring: KeyRing, *, accept_unsealed: bool) -> Manifest:
    """The manifest, once its seal opens under ``ring`` and matches its contents; ``accept_unsealed`` takes
    a manifest made before the seal as it stands."""
    doc, found = _load(directory)
    if found.seal is None and found.format != UNSEALED_FORMAT:
        raise BackupError(f"the backup manifest ({found.format}) has lost its seal: it was altered")
    if found.seal is None:
        if accept_unsealed:
            return found
        raise BackupError(
            f"the backup manifest ({found.format}) carries no seal, so an edit to it and to a file together "
            "would go unnoticed: if this backup was made before callsense sealed its manifests and was kept "
            "where no one could alter it, pass --accept-unsealed to check it by its sums alone"
        )
    try:
        sealed = base64.b64decode(found.seal, validate=True)
        key_id = ring.key_id_of(sealed)
        opened = ring.decrypt(sealed, context=_SEAL_CONTEXT)
    except (binascii.Error, DecryptionError) as exc:
        raise BackupError(
            f"the backup manifest's seal does not open with the key ring given ({exc}): the manifest was "
            "altered, or the key ring is not this backup's"
        ) from None
    if not hmac.compare_digest(opened, _digest(doc)):
        raise BackupError(
            f"the backup manifest was altered after it was sealed (its seal, under key {key_id}, is for "
            "other contents): do not trust this backup's files"
        )
    return found


def write(directory: Path, manifest: Manifest, ring: KeyRing) -> Manifest:
    """Seal ``manifest`` with the active key of ``ring`` and write it, by a rename: a write that fails
    midway (a full disk) leaves no manifest, so the backup reads as unfinished, never as whole."""
    doc = manifest.model_dump(mode="json", exclude={"seal"})
    doc["seal"] = base64.b64encode(ring.encrypt(_digest(doc), context=_SEAL_CONTEXT)).decode("ascii")
    path, partial = directory / MANIFEST, tempfiles.temporary_name(directory / MANIFEST)
    try:
        partial.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        os.chmod(partial, 0o600)  # like every other file of the backup
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return Manifest.model_validate(doc)


def _load(directory: Path) -> tuple[dict[str, object], Manifest]:
    path = directory / MANIFEST
    if not directory.exists():  # a mistyped path, not a damaged backup
        raise BackupError(f"there is no backup at {directory}: no such directory")
    if not directory.is_dir():
        raise BackupError(f"{directory} is not a callsense backup: it is not a directory")
    try:
        doc = json.loads(path.read_bytes())
        return doc, Manifest.model_validate(doc)
    except FileNotFoundError:
        raise BackupError(f"{directory} is not a callsense backup: it has no {MANIFEST}") from None
    except (ValueError, ValidationError) as exc:
        detail = " ".join(str(exc).split())[:300]
        raise BackupError(f"{path} is damaged or not a callsense backup manifest: {detail}") from exc


def _digest(doc: dict[str, object]) -> bytes:
    """SHA-256 of the manifest's JSON without its seal, canonical: the same as written and as read back."""
    body = {name: value for name, value in doc.items() if name != "seal"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).digest()


def verify(directory: Path, names: Iterable[str], manifest: Manifest) -> None:
    """Check the files ``names`` (the manifest's, usually wrapped in a progress bar) against their sums."""
    root = directory.resolve()
    for name in names:
        expected = manifest.files[name]
        path = (root / name).resolve()
        if not path.is_relative_to(root):
            raise BackupError(f"the backup manifest names {name!r}, outside the backup")
        if not path.is_file():
            raise BackupError(f"the backup is incomplete: {name} is missing")
        actual = checksum(path)
        if actual != expected:
            raise BackupError(
                f"the backup is damaged: {name} has SHA-256 {actual.sha256[:16]}… ({actual.size} bytes), "
                f"the manifest says {expected.sha256[:16]}… ({expected.size} bytes)"
            )


def missing_summary(directory: Path, manifest: Manifest) -> str | None:
    """Which calls the backup holds without their recording (the blob store lacked it when the backup was
    made): the count and the first few, or ``None`` when none is missing."""
    if not manifest.missing_blobs:
        return None
    named = manifest.missing_calls if manifest.missing_calls is not None else manifest.missing_blobs
    field = "missing_calls" if manifest.missing_calls is not None else "missing_blobs"
    listed = ", ".join(named[:_NAMED])
    if len(named) > _NAMED:
        listed += f", … (all {len(named)}: {field} in {directory / MANIFEST})"
    if manifest.missing_calls is None:  # made before the call ids were recorded: the recordings alone
        return (
            f"{len(named)} recording(s) the database named are not in this backup (the blob store lacked "
            f"them when it was made), so their calls have none: {listed}"
        )
    return (
        f"{len(named)} call(s) in this backup have no recording (the blob store lacked it when the backup "
        f"was made): {listed}"
    )
