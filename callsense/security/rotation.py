"""Key rotation: a new active key, then every stored ciphertext re-encrypted under it.

Safe to interrupt and run again: values already under the active key are skipped, and old keys are
retired only after nothing is left under them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from callsense.calls import service as calls
from callsense.calls.models import Analysis, Call, Transcript

if TYPE_CHECKING:
    from callsense.pipeline.runner import Runtime

# (model, column, context field) of every encrypted database column.
ENCRYPTED_COLUMNS: tuple[tuple[type[Transcript] | type[Analysis], str, str], ...] = (
    (Transcript, "segments_enc", "segments"),
    (Transcript, "translated_enc", "translation"),
    (Analysis, "result_enc", "analysis"),
)


@dataclass
class RotationReport:
    new_key: str
    rows: int = 0
    blobs: int = 0
    retired: set[str] = field(default_factory=set)


def _rows(session: Session, model: type[Transcript] | type[Analysis]) -> Sequence[Transcript | Analysis]:
    if model is Transcript:
        return session.scalars(select(Transcript).with_for_update()).all()
    return session.scalars(select(Analysis).with_for_update()).all()


def rotate(rt: Runtime, *, retire_old: bool) -> RotationReport:
    keyring = rt.keyring
    report = RotationReport(new_key=keyring.rotate())
    with rt.db.transaction() as session:
        for model, column, context_field in ENCRYPTED_COLUMNS:
            for row in _rows(session, model):
                value = getattr(row, column)
                if value is not None and keyring.needs_rotation(value):
                    context = calls.context(row.call_pk, context_field)
                    setattr(row, column, keyring.reencrypt(value, context=context))
                    report.rows += 1
        blob_calls = session.scalars(select(Call).where(Call.audio_blob.is_not(None))).all()
        for call in blob_calls:
            assert call.audio_blob is not None
            value = rt.blobs.get(call.audio_blob)
            if keyring.needs_rotation(value):
                rt.blobs.put(
                    call.audio_blob, keyring.reencrypt(value, context=calls.context(call.id, "audio"))
                )
                report.blobs += 1
    if retire_old:
        for key_id in keyring.key_ids - {keyring.active_key_id}:
            keyring.retire(key_id)
            report.retired.add(key_id)
    return report
