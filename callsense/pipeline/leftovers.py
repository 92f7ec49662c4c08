"""What writes killed midway left in the blob store: swept once an hour by a periodic job of the workers.

A write to the archive that a ``kill -9`` or a power cut stops half way leaves a temporary file beside the
recording (filesystem archive) or an incomplete multipart upload (S3): never read as a recording, but taking
space for ever. Each store knows how to tell a leftover from a live write (``sweep_leftovers``); this module
runs it and says in the log what was removed.
"""

from __future__ import annotations

import structlog

from callsense.backends.blobstore import BlobStore, Leftover, SweepsLeftovers
from callsense.errors import BlobStoreRefusedError

log = structlog.get_logger(__name__)

# Hourly, off the full hour (when cron jobs of other software crowd the machine).
SWEEP_CRON = "41 * * * *"


def sweep(store: BlobStore) -> list[Leftover]:
    """Remove what killed writes left in ``store``; one log line for each thing removed."""
    if not isinstance(store, SweepsLeftovers):
        return []
    try:
        removed = store.sweep_leftovers()
    except BlobStoreRefusedError as exc:  # e.g. no s3:ListBucketMultipartUploads: the lifecycle rule's job
        log.warning("cannot sweep the blob store for what killed writes left", error=str(exc))
        return []
    for leftover in removed:
        log.warning(
            "removed what a killed write left in the blob store",
            leftover=leftover.name,
            bytes=leftover.size,
            age_h=round(leftover.age_s / 3600, 1),
        )
    return removed
