"""Folder sources without a database: presets on trees laid out as each recorder writes them, the metadata
a name and a sidecar give, and the files that are refused, with their reasons."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from callsense.backends.recordings.http import FetchOptions
from callsense.backends.recordings.sources import FolderSource, Listed, check_folder
from callsense.backends.recordings.sources.metadata import derived_call_id
from callsense.backends.recordings.sources.rest import RestSource
from callsense.calls.service import SOURCE_AGENT_SPEAKS_KEY
from callsense.config import Settings
from callsense.config.sources import FolderSourceSettings, RestSourceSettings
from callsense.errors import BadAudioError, RecordingRefusedError
from tests.recording_trees import put, tiny_wav

CONTACT = "5f0c6f4e-2b1a-4c3d-9e8f-0123456789ab"
FS_UUID = "a1b2c3d4-e5f6-4a5b-8c9d-0e1f2a3b4c5d"


def _source(root: Path, **options: Any) -> FolderSource:
    return FolderSource(FolderSourceSettings.model_validate({"name": "test", "path": root, **options}))


def _listed(source: FolderSource) -> dict[str, Listed]:
    return {item.key: item for item in source.scan()}


def test_amazon_connect_preset_reads_the_call_recordings_tree(tmp_path: Path) -> None:
    wav = tiny_wav(channels=2)
    put(tmp_path, f"connect/acme-prod/CallRecordings/2024/01/15/{CONTACT}_20240115T14:30_UTC.wav", wav)
    put(tmp_path, "connect/acme-prod/Analysis/Voice/2024/01/15/x_analysis.json", b"{}")  # Contact Lens
    put(tmp_path, "connect/acme-prod/ChatTranscripts/2024/01/15/chat.json", b"{}")
    source = _source(tmp_path, preset="amazon-connect")

    (item,) = _listed(source).values()
    recording = source.inspect(item)

    assert recording.call_id == CONTACT
    assert recording.details.started_at == datetime(2024, 1, 15, 14, 30, tzinfo=UTC)
    assert recording.details.agent_channel == "right"
    assert recording.details.metadata == {
        "source": "test",
        "path": item.key,
        "instance": "acme-prod",
        SOURCE_AGENT_SPEAKS_KEY: None,  # the source's agent_speaks, as it was when taken
    }


def test_asterisk_preset_takes_the_cdr_from_a_sidecar_when_there_is_one(tmp_path: Path) -> None:
    spool = tmp_path / "var/spool/asterisk/monitor"
    put(spool, "1700000000.42.wav", tiny_wav())
    cdr = {"uniqueid": "1700000000.42", "src": "+15551230000", "dst": "2001", "start": "2023-11-14 22:15:00"}
    put(spool, "1700000000.42.json", json.dumps({**cdr, "disposition": "ANSWERED"}).encode())
    put(spool, "1700000100.43.wav", tiny_wav())  # no CDR written: the name alone
    settings = FolderSourceSettings.model_validate({"name": "pbx", "preset": "asterisk", "path": spool})
    assert FolderSourceSettings(name="pbx", preset="asterisk").path == Path("/var/spool/asterisk/monitor")  # type: ignore[call-arg]
    source = FolderSource(settings)

    listed = _listed(source)
    assert sorted(listed) == ["1700000000.42.wav", "1700000100.43.wav"]  # the sidecar is no recording
    with_cdr = source.inspect(listed["1700000000.42.wav"])
    alone = source.inspect(listed["1700000100.43.wav"])

    assert with_cdr.call_id == "1700000000.42"
    assert (with_cdr.details.customer_number, with_cdr.details.agent) == ("+15551230000", "2001")
    assert with_cdr.details.started_at == datetime(2023, 11, 14, 22, 15, tzinfo=UTC)
    assert with_cdr.details.metadata == {
        "source": "pbx",
        "path": "1700000000.42.wav",
        "disposition": "ANSWERED",
        SOURCE_AGENT_SPEAKS_KEY: None,
    }
    assert alone.call_id == "1700000100.43"
    assert alone.details.started_at == datetime.fromtimestamp(1700000100, UTC)
    assert alone.details.agent is None and alone.details.agent_channel is None  # mixed mono: asr's setting


def test_freeswitch_preset_reads_record_stereo_files_named_by_uuid(tmp_path: Path) -> None:
    put(tmp_path, f"recordings/2024-01-15/{FS_UUID}.wav", tiny_wav(channels=2))
    put(tmp_path, "recordings/2024-01-15/voicemail_greeting.wav", tiny_wav())
    source = _source(tmp_path, preset="freeswitch", path=tmp_path / "recordings")

    listed = _listed(source)
    assert set(listed) == {f"2024-01-15/{FS_UUID}.wav", "2024-01-15/voicemail_greeting.wav"}
    recording = source.inspect(listed[f"2024-01-15/{FS_UUID}.wav"])
    assert (recording.call_id, recording.details.agent_channel) == (FS_UUID, "right")
    with pytest.raises(RecordingRefusedError, match="does not match the source's filename_pattern"):
        source.inspect(listed["2024-01-15/voicemail_greeting.wav"])


def test_an_option_set_beside_a_preset_wins(tmp_path: Path) -> None:
    settings = FolderSourceSettings.model_validate(
        {"name": "c", "preset": "amazon-connect", "path": tmp_path, "agent_channel": "left"}
    )
    assert settings.agent_channel is not None and settings.agent_channel.value == "left"
    assert settings.timestamp_format == "%Y%m%dT%H:%M"


def test_a_pattern_fills_the_fields_and_the_rest_goes_into_metadata(tmp_path: Path) -> None:
    put(tmp_path, "sales/in_2024-03-01T09:15:00+01:00_alice_+4930123_c-77.wav", tiny_wav())
    pattern = (
        r"(?P<queue>[a-z]+)/(?P<direction>in|out)_(?P<timestamp>[^_]+)_(?P<agent>[a-z]+)_"
        r"(?P<customer_number>\+\d+)_(?P<call_id>[a-z0-9-]+)\.wav"
    )
    source = _source(tmp_path, filename_pattern=pattern)
    (item,) = _listed(source).values()
    details = source.inspect(item).details
    assert (details.direction, details.agent, details.customer_number) == ("inbound", "alice", "+4930123")
    assert details.started_at == datetime(2024, 3, 1, 8, 15, tzinfo=UTC)
    assert details.metadata is not None and details.metadata["queue"] == "sales"


def test_an_xml_sidecar_is_mapped_by_element_paths(tmp_path: Path) -> None:
    put(tmp_path, "r1.wav", tiny_wav())
    xml = (
        b"<call><id>x-1</id><parties><agent>bob</agent><ani>+155512</ani></parties><queue>vip</queue>"
        b"<source_agent_speaks>first</source_agent_speaks></call>"  # cannot pose as the source's setting
    )
    put(tmp_path, "r1.xml", xml)
    fields = {"call_id": "id", "agent": "parties/agent", "customer_number": "parties/ani"}
    source = _source(tmp_path, sidecar="xml", sidecar_fields=fields)
    recording = source.inspect(_listed(source)["r1.wav"])
    assert (recording.call_id, recording.details.agent, recording.details.customer_number) == (
        "x-1",
        "bob",
        "+155512",
    )
    assert recording.details.metadata == {
        "source": "test",
        "path": "r1.wav",
        "queue": "vip",
        SOURCE_AGENT_SPEAKS_KEY: None,
    }


@pytest.mark.parametrize(
    ("sidecar", "content", "reason"),
    [
        ("json", b"{not json", "its sidecar is not JSON"),
        ("json", b"[1, 2]", "not a JSON object"),
        ("xml", b"<call><id>1</call>", "its sidecar is not XML"),
        ("json", b'{"start": "yesterday"}', "timestamp 'yesterday' is not ISO 8601"),
        ("json", b'{"call_id": "has spaces/and slashes"}', "characters a call id cannot have"),
        ("json", b'{"dir": "sideways"}', "neither inbound nor outbound"),
        ("json", b"[" * 100_000, "its sidecar is not JSON: nested too deeply"),  # under the 1 MiB limit
    ],
)
def test_a_sidecar_that_does_not_parse_is_refused_with_its_reason(
    tmp_path: Path, sidecar: str, content: bytes, reason: str
) -> None:
    put(tmp_path, "r.wav", tiny_wav())
    put(tmp_path, f"r.{sidecar}", content)
    fields = {"timestamp": "start", "call_id": "call_id", "direction": "dir"} if sidecar == "json" else {}
    source = _source(tmp_path, sidecar=sidecar, sidecar_fields=fields)
    with pytest.raises(RecordingRefusedError, match=reason):
        source.inspect(_listed(source)["r.wav"])


def test_empty_and_non_audio_files_are_refused_before_they_become_calls(tmp_path: Path) -> None:
    put(tmp_path, "empty.wav", b"")
    put(tmp_path, "page.wav", b"<!DOCTYPE html><html>not a recording</html>")
    source = _source(tmp_path)
    listed = _listed(source)
    with pytest.raises(BadAudioError, match="empty"):
        source.inspect(listed["empty.wav"])
    with pytest.raises(BadAudioError, match="HTML"):
        source.inspect(listed["page.wav"])


def test_hidden_partial_and_processed_files_are_not_listed(tmp_path: Path) -> None:
    put(tmp_path, "a.wav", tiny_wav())
    put(tmp_path, ".b.wav.part7", tiny_wav())  # an upload in progress (rsync, scp -T)
    put(tmp_path, ".incoming/c.wav", tiny_wav())
    put(tmp_path, "processed/2024/d.wav", tiny_wav())
    put(tmp_path, "needs-cdr.wav", tiny_wav())
    assert sorted(_listed(_source(tmp_path))) == ["a.wav", "needs-cdr.wav"]
    put(tmp_path, "a.json", b"{}")
    waiting = _source(tmp_path, sidecar="json", sidecar_required=True)
    assert sorted(_listed(waiting)) == ["a.wav"]  # needs-cdr.wav waits for its sidecar


def test_a_link_to_a_file_outside_the_folder_is_not_listed(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "share", tmp_path / "elsewhere"
    put(root, "a.wav", tiny_wav())
    put(elsewhere, "secret.wav", tiny_wav())
    (root / "planted.wav").symlink_to(elsewhere / "secret.wav")
    (root / "inside.wav").symlink_to(root / "a.wav")  # a link that stays in the folder is a file of it
    assert sorted(_listed(_source(root))) == ["a.wav", "inside.wav"]


def test_a_link_turned_outside_the_folder_after_the_listing_is_not_read(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "share", tmp_path / "elsewhere"
    put(root, "a.wav", tiny_wav())
    put(elsewhere, "secret.wav", tiny_wav(seconds=0.7))
    (root / "planted.wav").symlink_to(root / "a.wav")
    source = _source(root)
    listed = _listed(source)["planted.wav"]  # listed while it pointed inside
    (root / "planted.wav").unlink()
    (root / "planted.wav").symlink_to(elsewhere / "secret.wav")
    with pytest.raises(RecordingRefusedError, match="a link to a file outside the folder"):
        source.inspect(listed)
    with pytest.raises(RecordingRefusedError, match="a link to a file outside the folder"):
        source.staged(listed)


def test_a_derived_call_id_is_the_same_for_the_same_file_of_the_same_source() -> None:
    assert derived_call_id("nas", "2024/a.wav") == derived_call_id("nas", "2024/a.wav")
    assert derived_call_id("nas", "2024/a.wav") != derived_call_id("nas", "2024/b.wav")
    assert derived_call_id("nas", "2024/a.wav") != derived_call_id("nas2", "2024/a.wav")
    assert derived_call_id("nas", "2024/a.wav").startswith("nas-")


def test_the_folder_check_names_what_is_missing(tmp_path: Path) -> None:
    missing = FolderSourceSettings(name="gone", path=tmp_path / "nowhere")
    assert [(check.name, check.ok) for check in check_folder(missing)] == [("folder exists", False)]
    moving = FolderSourceSettings.model_validate({"name": "m", "path": tmp_path, "after_ingest": "move"})
    assert [(check.name, check.ok) for check in check_folder(moving)] == [
        ("folder exists", True),
        ("readable", True),
        ("writable", True),
    ]


def test_the_folder_check_names_recordings_the_glob_misses_only_by_upper_or_lower_case(
    tmp_path: Path,
) -> None:
    put(tmp_path, "a.wav", tiny_wav())
    put(tmp_path, "2024/REC0001.WAV", tiny_wav())  # a Windows recorder writing onto the share
    put(tmp_path, "2024/REC0001.XML", b"<call/>")
    put(tmp_path, "2024/.REC0002.WAV", tiny_wav())  # an upload in progress: no recording yet
    checks = check_folder(FolderSourceSettings(name="nas", path=tmp_path))
    case = checks[-1]
    assert (case.name, case.ok) == ("letter case", False)
    assert (
        case.detail
        == "1 file(s) match **/*.wav but for upper/lower case (2024/REC0001.WAV): the glob is case-sensitive"
    )
    either = FolderSourceSettings(name="nas", path=tmp_path, glob="**/*.[wW][aA][vV]")
    assert all(check.ok for check in check_folder(either))


def test_a_windows_recorder_s_capitalised_sidecar_is_read_beside_its_recording(tmp_path: Path) -> None:
    put(tmp_path, "REC0001.WAV", tiny_wav())
    put(tmp_path, "REC0001.XML", b"<call><agent>alice</agent></call>")
    options = {"glob": "*.[wW][aA][vV]", "sidecar": "xml", "sidecar_required": True}
    source = _source(tmp_path, sidecar_fields={"agent": "agent"}, **options)
    (listed,) = _listed(source).values()
    assert source.inspect(listed).details.agent == "alice"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sidecar_fields": {"caller": "src"}}, "unknown sidecar field"),
        ({"poll_cron": "every minute"}, "is not a cron line"),
        # Taken as it was: every file with a timestamp was refused, and stayed so once the typo was fixed.
        (
            {"timestamp_format": "%s"},
            "timestamp_format '%s': 's' is a bad directive.*'epoch' for Unix seconds",
        ),
        ({"timestamp_format": "%Y%m%d%"}, "timestamp_format '%Y%m%d%': stray %"),
        ({"filename_pattern": "(?P<call_id"}, "not a regular expression"),
        ({"preset": "genesys"}, "amazon-connect"),
        ({"sidecar": "xml", "sidecar_fields": {"agent": "parties/[bad"}}, "is not an element path"),
        ({"glob": ""}, "glob must be a non-empty pattern relative"),
        ({"glob": "/mnt/recordings/**/*.wav"}, "glob must be a non-empty pattern relative"),
        ({"glob": "../**/*.wav"}, "glob must be a non-empty pattern relative"),
        ({"glob": "**.wav"}, "'\\*\\*' is a whole folder name"),
        ({"processed_dir": "."}, "is the folder itself or above it"),
        ({"processed_dir": ""}, "is the folder itself or above it"),
        ({"processed_dir": ".."}, "is the folder itself or above it"),
    ],
)
def test_settings_refuse_what_cannot_work(tmp_path: Path, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FolderSourceSettings.model_validate({"name": "x", "path": tmp_path, **options})


def test_a_rest_source_refuses_a_timestamp_format_strptime_cannot_read() -> None:
    with pytest.raises(ValidationError, match="timestamp_format '%Y-%m-%dT%H:%M:%Q': 'Q' is a bad directive"):
        RestSourceSettings(
            name="api", url="https://recorder.example/api", timestamp_format="%Y-%m-%dT%H:%M:%Q"
        )


def test_source_names_are_unique(tmp_path: Path) -> None:
    twice = [{"name": "nas", "path": str(tmp_path)}, {"name": "nas", "path": str(tmp_path / "b")}]
    with pytest.raises(ValidationError, match="source names must be unique: nas"):
        Settings(sources={"folders": twice})  # type: ignore[arg-type]


def test_a_rest_item_is_mapped_by_dotted_keys_and_refused_without_an_http_recording() -> None:
    settings = RestSourceSettings(
        name="api",
        url="https://recorder.example/api/recordings",
        fields={"call_id": "id", "recording_url": "media.url", "agent": "agent.name", "timestamp": "start"},
        timestamp_format="epoch",
    )
    source = RestSource(settings, FetchOptions(max_bytes=1024))
    item = {
        "id": 7,
        "media": {"url": "https://recorder.example/m/7.wav"},
        "agent": {"name": "ann"},
        "start": 0,
    }
    mapped = source._item(0, item)
    assert mapped.url == "https://recorder.example/m/7.wav" and mapped.recording is not None
    assert (mapped.recording.call_id, mapped.recording.details.agent) == ("7", "ann")
    assert mapped.recording.details.started_at == datetime(1970, 1, 1, tzinfo=UTC)
    ftp = source._item(1, {"id": "x", "media": {"url": "ftp://recorder.example/x.wav"}})
    assert ftp.recording is None and ftp.refused is not None and "is not http(s)" in ftp.refused
    nameless = source._item(2, {"media": {"url": "https://recorder.example/y.wav"}})
    assert nameless.refused == "it names no id"
    assert settings.reads == "https://recorder.example/api/recordings"
    secret = RestSourceSettings(name="s", url="https://user:pw@recorder.example:8443/list?key=abc")
    assert secret.reads == "https://recorder.example:8443/list"


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        # the caller's international number as the recorder's id (a '+': refused before, quoting it)
        ("+4915112345678_2026-12-05.wav", r"(?P<call_id>[^/]+)\.wav"),
        # the caller's number, given as such, inside the id in its national form
        ("015112345678-7_+4915112345678.wav", r"(?P<call_id>[^_]+)_(?P<customer_number>\+\d+)\.wav"),
    ],
)
def test_a_call_id_that_holds_a_phone_number_is_derived_from_the_path_instead(
    tmp_path: Path, name: str, pattern: str
) -> None:
    put(tmp_path, name, tiny_wav())
    source = _source(tmp_path, filename_pattern=pattern)
    (item,) = _listed(source).values()
    assert source.inspect(item).call_id == derived_call_id("test", name)


def test_call_id_from_digest_derives_every_id_and_name_keeps_the_recorder_s(tmp_path: Path) -> None:
    put(tmp_path, "1700000000.42.wav", tiny_wav())
    asterisk = {"preset": "asterisk", "path": tmp_path, "sidecar": "none"}
    by_name = _source(tmp_path, **asterisk)
    by_digest = _source(tmp_path, **asterisk, call_id_from="digest")
    (item,) = _listed(by_name).values()
    assert by_name.inspect(item).call_id == "1700000000.42"  # epoch seconds and a sequence: no phone
    assert by_digest.inspect(item).call_id == derived_call_id("test", "1700000000.42.wav")


def test_a_refused_call_id_is_not_quoted_in_the_reason(tmp_path: Path) -> None:
    put(tmp_path, "Jürgen Böhm.wav", tiny_wav())
    source = _source(tmp_path, filename_pattern=r"(?P<call_id>[^/]+)\.wav")
    (item,) = _listed(source).values()
    with pytest.raises(RecordingRefusedError) as refused:
        source.inspect(item)
    assert "Böhm" not in str(refused.value)
