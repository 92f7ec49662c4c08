"""Where recordings are taken from without a webhook: folders (local disks and NAS mounts) behind one port."""

from __future__ import annotations

from callsense.backends.recordings.sources.base import Listed, Recording, Source
from callsense.backends.recordings.sources.folder import FolderSource, check_folder
from callsense.config import Settings

__all__ = ["FolderSource", "Listed", "Recording", "Source", "check_folder", "configured"]


def configured(settings: Settings) -> dict[str, FolderSource]:
    """Every configured source by name, enabled or not."""
    return {source.name: FolderSource(source) for source in settings.sources.folders}
