"""A folder source: a directory tree on a local disk or an NFS/SMB mount, read by polling (inotify does not
see writes made on another machine).

Hidden files (a name starting with '.', as rsync and many uploaders write before renaming), the processed
folder and sidecar files are never listed as recordings.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from callsense.backends.recordings.sniff import SNIFF_BYTES, require_audio
from callsense.backends.recordings.sources import metadata
from callsense.backends.recordings.sources.base import Listed, Recording
from callsense.config.file_sources import glob_pattern
from callsense.config.sources import AfterIngest, FolderSourceSettings, Sidecar
from callsense.errors import BadAudioError, RecordingRefusedError, SourceUnavailableError

MAX_SIDECAR_BYTES = 1024 * 1024


class FolderSource:
    def __init__(self, settings: FolderSourceSettings) -> None:
        self.settings = settings
        self._root = settings.path.expanduser()
        self._real_root = self._root.resolve()
        self._processed = (self._root / settings.processed_dir).resolve()

    @property
    def name(self) -> str:
        return self.settings.name

    def scan(self) -> Iterator[Listed]:
        if not self._root.is_dir():
            raise SourceUnavailableError(f"the folder {self._root} does not exist (or is not a folder)")
        if not os.access(self._root, os.R_OK | os.X_OK):
            raise SourceUnavailableError(f"the folder {self._root} cannot be read by this user")
        sidecar = self._sidecar_suffix()
        for path in self._root.glob(self.settings.glob):
            relative = path.relative_to(self._root)
            if any(part.startswith(".") for part in relative.parts) or path.suffix.lower() == sidecar:
                continue
            real = path.resolve()
            if self._processed in real.parents or not self._inside(real):
                continue
            try:
                info = path.stat()
            except FileNotFoundError:  # gone between listing and stat: the next poll will not see it
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            mtime = _changed(info)
            if sidecar is not None:
                try:
                    # the sidecar's changes are the recording's: one still being written waits, and one
                    # refused (half-written, or wrong) is read again once rewritten
                    mtime = max(mtime, _changed(self._sidecar_of(path).stat()))
                except OSError:  # none (yet), or one that cannot be looked at: as Path.exists() reads it
                    if self.settings.sidecar_required:
                        continue  # the recorder writes it after the audio: not complete yet
            yield Listed(key=_key(relative), location=str(path), size=info.st_size, mtime=mtime)

    def inspect(self, listed: Listed) -> Recording:
        path = Path(listed.location)
        if not _is_utf8(listed.location):  # the call's source is stored as text: it could not be registered
            raise RecordingRefusedError(
                "its name is not UTF-8 (a recorder writing another code page): rename it"
            )
        try:
            with self._contained(path).open("rb") as handle:
                head = handle.read(SNIFF_BYTES)
        except OSError as exc:
            raise SourceUnavailableError(f"cannot read the file: {exc.strerror or exc}") from None
        if not head:
            raise BadAudioError("the file is empty")
        require_audio(head, origin="the file holds")
        values = metadata.from_path(self.settings.filename_pattern, listed.key)
        if self.settings.sidecar is not Sidecar.none:
            values.update(self._sidecar_values(self._sidecar_of(path)))
        call_id, details = metadata.call_details(values, settings=self.settings, key=listed.key)
        return Recording(call_id=call_id, details=details)

    def staged(self, listed: Listed) -> AbstractContextManager[str]:
        return nullcontext(str(self._contained(Path(listed.location))))

    def _inside(self, real: Path) -> bool:
        # a link to a file outside the folder would let whoever writes the share read any audio this user
        # can (another source's, a backup's)
        return self._real_root in real.parents

    def _contained(self, path: Path) -> Path:
        """Where ``path`` leads now, checked again when it is read: a link listed while it led into the folder
        may have been turned outside since."""
        real = path.resolve()
        if not self._inside(real):
            raise RecordingRefusedError("it is a link to a file outside the folder")
        return real

    def finish(self, listed: Listed) -> None:
        after = self.settings.after_ingest
        if after is AfterIngest.leave:
            return
        path = Path(listed.location)
        sidecar = self._sidecar_of(path)
        try:
            if after is AfterIngest.delete:
                path.unlink(missing_ok=True)
                if self.settings.sidecar is not Sidecar.none:
                    sidecar.unlink(missing_ok=True)
                return
            target = self._processed / listed.key
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, target)
            if self.settings.sidecar is not Sidecar.none and sidecar.exists():
                shutil.move(sidecar, target.with_suffix(sidecar.suffix))
        except OSError as exc:
            raise SourceUnavailableError(f"could not {after.value} the file: {exc.strerror or exc}") from None

    def _sidecar_suffix(self) -> str | None:
        return None if self.settings.sidecar is Sidecar.none else f".{self.settings.sidecar.value}"

    def _sidecar_of(self, path: Path) -> Path:
        return path.with_suffix(metadata.sidecar_suffix(self.settings.sidecar, path.suffix))

    def _sidecar_values(self, sidecar: Path) -> dict[str, str]:
        try:
            if sidecar.stat().st_size > MAX_SIDECAR_BYTES:
                raise RecordingRefusedError(f"its sidecar is over {MAX_SIDECAR_BYTES} bytes")
            data = sidecar.read_bytes()
        except FileNotFoundError:
            return {}  # optional: what the name tells is enough
        except OSError as exc:
            raise SourceUnavailableError(f"cannot read its sidecar: {exc.strerror or exc}") from None
        return metadata.from_sidecar(self.settings.sidecar, data, self.settings.sidecar_fields)


def _key(relative: Path) -> str:
    """The file's key: its relative path, with the bytes of a name that is not UTF-8 (Linux keeps whatever a
    recorder on a Windows code page wrote) as escapes, so that the database can hold it."""
    key = relative.as_posix()
    return key if _is_utf8(key) else os.fsencode(key).decode("utf-8", "backslashreplace")


def _is_utf8(name: str) -> bool:
    try:
        name.encode()
    except UnicodeEncodeError:  # undecodable bytes, which Python keeps as lone surrogates
        return False
    return True


def _changed(info: os.stat_result) -> float:
    """When the file last changed: its change time too, since Windows' copy over SMB sets the final size and
    the original modification time first, and the server keeps that time while the data is written (SMB's
    "sticky" write time)."""
    return max(info.st_mtime, info.st_ctime)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_folder(settings: FolderSourceSettings) -> list[Check]:
    """What ``callsense sources test`` shows: the folder is there, can be listed, and can be written where
    files are moved or deleted after ingest."""
    root = settings.path.expanduser()
    checks = [Check("folder exists", root.is_dir(), str(root))]
    if not checks[0].ok:
        return checks
    checks.append(Check("readable", os.access(root, os.R_OK | os.X_OK), "list and read its files"))
    if settings.after_ingest is AfterIngest.delete:
        checks.append(Check("writable", os.access(root, os.W_OK), "files are deleted after ingest"))
    elif settings.after_ingest is AfterIngest.move:
        processed = root / settings.processed_dir
        existing = next(parent for parent in (processed, *processed.parents) if parent.exists())
        writable = os.access(root, os.W_OK) and os.access(existing, os.W_OK)
        checks.append(Check("writable", writable, f"files are moved into {processed}"))
    if checks[1].ok:
        checks.extend(_letter_case(root, settings.glob))
    return checks


def _letter_case(root: Path, glob: str) -> list[Check]:
    """Files the glob misses only by upper or lower case: Windows recorders write '.WAV', which '*.wav' does
    not match on Linux, and the poll would pass them over without a word."""
    matched = {path.relative_to(root).as_posix() for path in root.glob(glob)}
    caseless = re.compile(glob_pattern(glob).pattern, re.IGNORECASE)
    missed = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        for name in names:
            relative = (Path(folder) / name).relative_to(root).as_posix()
            if not name.startswith(".") and relative not in matched and caseless.fullmatch(relative):
                missed.append(relative)
    if not missed:
        return []
    examples = ", ".join(sorted(missed)[:3])
    detail = f"{len(missed)} file(s) match {glob} but for upper/lower case ({examples}): "
    detail += "the glob is case-sensitive"
    return [Check("letter case", False, detail)]
