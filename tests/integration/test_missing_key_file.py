"""A key file missing where the settings say while the database holds calls (a mistyped ``key_file``, a volume
not mounted) is refused: a fresh key ring there would seal new calls under a key no backup has."""

from __future__ import annotations

from callsense.config import Settings
from callsense.pipeline import ingest
from callsense.runtime import open_runtime
from tests.crm_calls import cli
from tests.integration.test_stages import SOURCE


def test_a_missing_key_file_is_refused_when_the_database_holds_calls(settings: Settings) -> None:
    rt = open_runtime(settings)
    try:
        ingest.ingest(rt, call_id="kept-call", source=SOURCE)  # its source URL sealed under the call's key
        key_id = rt.keyring.active_key_id
    finally:
        rt.db.close()
    settings.resolved_key_file.unlink()

    for command in (["show", "kept-call"], ["doctor"]):
        refused = cli(settings, *command)
        assert refused.returncode == 1, refused.stdout
        said = " ".join((refused.stdout + refused.stderr).split())
        assert f"key file {settings.resolved_key_file} does not exist" in said, said
        assert f"sealed under the ring key(s) {key_id}" in said
        assert not settings.resolved_key_file.exists()  # it used to be made afresh, opening none of the calls
