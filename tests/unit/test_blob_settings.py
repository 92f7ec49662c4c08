from __future__ import annotations

from pathlib import Path

import pytest

from callsense.backends.blobstore import FilesystemBlobStore, open_blobstore
from callsense.cli import doctor
from callsense.config import Settings, load_settings
from callsense.config.blobs import BlobBackendName
from callsense.errors import ConfigError

S3 = {
    "CALLSENSE_BLOBS__BACKEND": "s3",
    "CALLSENSE_BLOBS__BUCKET": "call-archive",
    "CALLSENSE_BLOBS__PREFIX": "callsense/prod/",
    "CALLSENSE_BLOBS__ENDPOINT_URL": "https://minio.internal:9000",
    "CALLSENSE_BLOBS__REGION": "eu-central-1",
    "CALLSENSE_BLOBS__ADDRESSING_STYLE": "path",
}


def test_the_filesystem_archive_stays_the_default(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, blob_dir=tmp_path / "nas")
    assert settings.blobs.backend is BlobBackendName.filesystem
    store = open_blobstore(settings)
    assert isinstance(store, FilesystemBlobStore)
    assert repr(store) == f"FilesystemBlobStore('{tmp_path / 'nas'}')"


def test_s3_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in S3.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(data_dir=tmp_path)
    store = open_blobstore(settings)  # builds the client, connects to nothing
    assert repr(store) == (
        "S3BlobStore('https://minio.internal:9000', bucket='call-archive', prefix='callsense/prod/')"
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CALLSENSE_BLOBS__BUCKET", "", "needs bucket"),
        ("CALLSENSE_BLOBS__BUCKET", "Call_Archive", "not a valid bucket name"),
        ("CALLSENSE_BLOBS__BUCKET", "ab", "not a valid bucket name"),
        ("CALLSENSE_BLOBS__PREFIX", "callsense", "ending in '/'"),
        ("CALLSENSE_BLOBS__PREFIX", "/callsense/", "ending in '/'"),
        ("CALLSENSE_BLOBS__PREFIX", "a/../", "ending in '/'"),
        ("CALLSENSE_BLOBS__ENDPOINT_URL", "minio.internal:9000", "endpoint_url must be an http"),
        ("CALLSENSE_BLOBS__PROXY_URL", "socks5://proxy:1080", "proxy_url must be an http"),
        ("CALLSENSE_BLOBS__ACCESS_KEY_ID", "AKIA0EXAMPLE", "access_key_id and secret_access_key together"),
        ("CALLSENSE_BLOBS__MULTIPART_PART_BYTES", str(4 * 1024 * 1024), "multipart_part_bytes"),
        ("CALLSENSE_BLOBS__ADDRESSING_STYLE", "dns", "addressing_style"),
    ],
)
def test_invalid_s3_settings_name_the_option(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    for name, default in S3.items():
        monkeypatch.setenv(name, default)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=f"blobs.*{message}"):
        load_settings()


def test_doctor_writes_and_reads_back_a_probe_in_the_archive(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, blob_dir=tmp_path / "nas")
    assert doctor._archive(settings) == doctor.Check("archive", True, f"{tmp_path / 'nas'}: writable")
    (tmp_path / "file").write_text("a file where the archive should be")
    blocked = tmp_path / "file" / "blobs"
    check = doctor._archive(Settings(data_dir=tmp_path, blob_dir=blocked))
    assert check == doctor.Check("archive", False, f"cannot use blob_dir {blocked}: Not a directory")
    a_file = tmp_path / "file"
    check = doctor._archive(Settings(data_dir=tmp_path, blob_dir=a_file))
    assert check == doctor.Check(
        "archive", False, f"cannot use blob_dir {a_file}: it is a file, not a directory"
    )
