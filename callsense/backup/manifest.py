"""The manifest of a backup (``manifest.json``): what it holds, and the SHA-256 of every file in it.

A restore checks every checksum before it touches anything, so a damaged or incomplete copy is refused
with the name of the file that is wrong rather than half restored.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from callsense.errors import BackupError

__all__ = ["MANIFEST", "FileSum", "KeyRingCopy", "Manifest", "checksum", "read", "verify"]

MANIFEST = "manifest.json"
_CHUNK = 1024 * 1024


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
    format: Literal["callsense-backup-1"] = "callsense-backup-1"
    created_at: datetime
    callsense_version: str
    schema_revision: str
    postgresql_server: int = Field(description="Major version of the server the dump was taken from.")
    pg_dump: int = Field(description="Major version of the pg_dump that wrote database.dump.")
    calls: int
    blobs: int
    missing_blobs: list[str] = Field(description="Blobs the database named that the blob store did not have.")
    key_ring: KeyRingCopy
    files: dict[str, FileSum] = Field(description="Every other file of the backup, by relative path.")


def checksum(path: Path) -> FileSum:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return FileSum(sha256=digest.hexdigest(), size=path.stat().st_size)


def read(directory: Path) -> Manifest:
    path = directory / MANIFEST
    if not directory.exists():  # a mistyped path, not a damaged backup
        raise BackupError(f"there is no backup at {directory}: no such directory")
    if not directory.is_dir():
        raise BackupError(f"{directory} is not a callsense backup: it is not a directory")
    try:
        return Manifest.model_validate(json.loads(path.read_bytes()))
    except FileNotFoundError:
        raise BackupError(f"{directory} is not a callsense backup: it has no {MANIFEST}") from None
    except (ValueError, ValidationError) as exc:
        detail = " ".join(str(exc).split())[:300]
        raise BackupError(f"{path} is damaged or not a callsense backup manifest: {detail}") from exc


def write(directory: Path, manifest: Manifest) -> None:
    path = directory / MANIFEST
    path.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    os.chmod(path, 0o600)  # like every other file of the backup


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
