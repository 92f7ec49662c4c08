"""The erasures a restore must not undo: a call erased on request after the backup was made (or whose
erasure the backup lacks) would come back with it, its data key and the key ring that unwraps it included.

Before the database is replaced, the erasures it records (call id, when, by whom, the erasure's detail: never
anything of the call) are written to a file in the data directory (``PENDING``), together with those an
earlier restore left there; the caller erases those calls again once the restore is done
(``callsense.pipeline.erasure.erase_again``) and only then removes the file. A restore that fails or is
killed at any point leaves the file, so the next restore (or ``callsense backup reerase``) still erases them.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from callsense.calls.retention import ERASURE_STAGE
from callsense.config import Settings
from callsense.db import Database
from callsense.errors import BackupError

__all__ = ["PENDING", "Erased", "clear", "keep", "kept_in", "pending", "pending_warning", "recorded"]

PENDING = "erasures-to-reapply.json"


@dataclass(frozen=True)
class Erased:
    """One erasure as the replaced database recorded it."""

    call_id: str
    at: datetime
    actor: str | None
    detail: str | None

    @property
    def reason(self) -> str:
        """Why the restore erases it again: the original erasure, named."""
        return (
            f"erased on {self.at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC by {self.actor} before this restore"
        )


def recorded(db: Database) -> list[Erased]:
    """The first erasure of each call id the database records (none in a database that is no callsense one,
    or of a schema before erasures, 0011, whose events name no call id)."""
    with db.transaction() as session:
        named = text(
            "select exists (select from information_schema.columns where table_schema = 'public'"
            " and table_name = 'events' and column_name = 'call_id')"
        )
        if not session.execute(named).scalar_one():
            return []
        rows = session.execute(
            text(
                "select distinct on (call_id) call_id, at, actor, detail from events"
                " where stage = :stage and kind = 'erased' and call_id is not null order by call_id, at"
            ),
            {"stage": ERASURE_STAGE},
        )
        return [Erased(*row) for row in rows]


def keep(settings: Settings, erased: list[Erased], *, earlier: list[Erased]) -> list[Erased]:
    """Write ``erased`` and the erasures an earlier restore left (``earlier``, as ``pending`` read them) to
    the data directory, before anything is replaced; returns them all, the first erasure of each call id."""
    kept: dict[str, Erased] = {}
    for one in sorted([*earlier, *erased], key=_order):
        kept.setdefault(one.call_id, one)
    path = kept_in(settings)
    written = path.with_suffix(".tmp")
    payload = [{**asdict(one), "at": one.at.isoformat()} for one in kept.values()]
    try:
        settings.make_data_dir()
        with open(os.open(written, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
            json.dump(payload, file, indent=1)
            file.flush()
            os.fsync(file.fileno())  # on disk before the database is emptied: a power cut keeps it
        written.replace(path)
    except OSError as exc:
        raise BackupError(
            f"cannot keep the erasures to apply again after the restore in {path}: {exc.strerror}; nothing "
            "was replaced"
        ) from exc
    return list(kept.values())


def pending(settings: Settings) -> list[Erased]:
    """The erasures a restore kept and has not yet applied again (none when there is no file)."""
    path = kept_in(settings)
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise BackupError(f"cannot read the erasures kept by a restore in {path}: {exc}") from exc
    return [Erased(**{**one, "at": datetime.fromisoformat(one["at"])}) for one in found]


def pending_warning(settings: Settings) -> str | None:
    """What to tell the operator of a restore that kept erasures and did not apply them (it stopped, or
    restored an older schema): the calls they name may be back. None when there are none."""
    kept = pending(settings)
    if not kept:
        return None
    return (
        f"{len(kept)} erasure(s) kept by a restore are not applied yet ({kept_in(settings)}): the calls they "
        "name may be back; run 'callsense backup reerase' (after 'callsense db upgrade' if the database "
        "needs it)"
    )


def clear(settings: Settings) -> None:
    """Every erasure kept was applied again."""
    kept_in(settings).unlink(missing_ok=True)


def kept_in(settings: Settings) -> Path:
    return settings.data_dir / PENDING


def _order(one: Erased) -> tuple[datetime, str]:
    return one.at, one.call_id
