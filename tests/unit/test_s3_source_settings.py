"""S3 source settings without a server: what is refused when the settings load, what a preset sets on a
bucket, and how a glob reads keys."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from callsense.config import Settings
from callsense.config.file_sources import glob_pattern
from callsense.config.sources import CursorMode, S3SourceSettings


def _bucket(**options: Any) -> S3SourceSettings:
    return S3SourceSettings.model_validate({"name": "calls", "bucket": "recordings", **options})


def test_a_preset_sets_what_applies_to_a_bucket_and_objects_count_as_complete_at_once() -> None:
    connect = _bucket(preset="amazon-connect")
    assert connect.glob == "**/CallRecordings/**/*.wav" and connect.agent_channel == "right"
    assert _bucket(preset="asterisk").sidecar_fields["call_id"] == "uniqueid"  # its path is a folder's only
    assert (connect.stable_seconds, connect.cursor, connect.reads) == (
        0,
        CursorMode.folder,
        "s3://recordings/",
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"bucket": "Bad_Bucket"}, "not a valid bucket name"),
        ({"prefix": "connect"}, "ends in '/'"),
        ({"prefix": "/connect/"}, "does not start with one"),
        ({"processed_prefix": ""}, "moved onto themselves"),
        ({"glob": "/connect/**/*.wav"}, "glob must be a non-empty pattern relative"),
        ({"access_key_id": "AKIA"}, "set access_key_id and secret_access_key together"),
        ({"endpoint_url": "minio:9000"}, "endpoint_url must be an http"),
        ({"ca_bundle": "/etc/no-such-ca.pem"}, "ca_bundle /etc/no-such-ca.pem is not a file"),
        ({"path": "/mnt/x"}, "Extra inputs are not permitted"),
        ({"cursor": "date"}, "'folder', 'key' or 'none'"),
    ],
)
def test_settings_refuse_what_cannot_work(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _bucket(**options)


def test_names_are_unique_across_folders_and_buckets() -> None:
    sources = {
        "folders": [{"name": "calls", "path": "/mnt/calls"}],
        "s3": [{"name": "calls", "bucket": "abc"}],
    }
    with pytest.raises(ValidationError, match="source names must be unique: calls"):
        Settings(sources=sources)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("glob", "key", "matches"),
    [
        ("**/*.wav", "a.wav", True),
        ("**/*.wav", "2024/01/a.wav", True),
        ("**/*.wav", "2024/a.json", False),
        ("*.wav", "2024/a.wav", False),
        ("calls/*.wav", "calls/a.wav", True),
        ("**/CallRecordings/**/*.wav", "connect/acme/CallRecordings/2024/01/15/x.wav", True),
        ("**/CallRecordings/**/*.wav", "connect/acme/Analysis/2024/x.wav", False),
        ("call-?.wav", "call-1.wav", True),
        ("archive/**", "archive/2024/a.wav", True),
    ],
)
def test_a_glob_reads_keys_as_path_glob_reads_paths(glob: str, key: str, matches: bool) -> None:
    assert (glob_pattern(glob).fullmatch(key) is not None) is matches
