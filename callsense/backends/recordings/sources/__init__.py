"""Where recordings are taken from without a webhook: folders (local disks and NAS mounts) behind one port."""

from __future__ import annotations

from callsense.backends.recordings.sources.base import Listed, Recording, Source
from callsense.backends.recordings.sources.folder import Check, FolderSource, check_folder

__all__ = ["Check", "FolderSource", "Listed", "Recording", "Source", "check_folder"]
