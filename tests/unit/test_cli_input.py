"""Bad input on the command line is refused with one 'error:' line and exit code 1 before any work starts:
no database is opened (the data directory stays empty), no model is loaded."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callsense.cli.main import app
from callsense.config import Settings
from tests.conftest import AUDIO

runner = CliRunner()
RECORDING = str(AUDIO / "en_short.wav")


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in os.environ:
        if name.startswith("CALLSENSE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CALLSENSE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def refused(*args: str) -> str:
    """The one line on stderr of a command that must fail with exit code 1."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1, result.output
    return result.stderr


def test_an_unknown_language_is_refused_before_the_call_is_registered(data_dir: Path) -> None:
    message = refused("process", RECORDING, "--language", "xx")
    assert message.startswith("error: unknown language 'xx' (Whisper knows af, am, ")
    assert not data_dir.exists()


@pytest.mark.parametrize("where", ["missing/record.json", "."])
def test_an_unwritable_json_out_is_refused_before_the_work(
    data_dir: Path, tmp_path: Path, where: str
) -> None:
    target = tmp_path / where
    message = refused("process", RECORDING, "--json-out", str(target))
    assert message.startswith(f"error: cannot write the record to {target}")
    assert not data_dir.exists()


def test_assembling_a_model_that_is_not_bundled_fails(data_dir: Path) -> None:
    message = refused("models", "assemble", "whisper-large")
    assert message.startswith("error: whisper-large is not a bundled model (bundled: base, ")


@pytest.mark.parametrize(
    ("option", "value", "limit"),
    [
        ("--port", "70000", "less than or equal to 65535"),
        ("--worker-concurrency", "-1", "greater than or equal to 0"),
    ],
)
def test_serve_refuses_a_value_out_of_range(option: str, value: str, limit: str) -> None:
    # Neither wrapped round nor ignored: --port 70000 listened on 4464 (70000 - 65536) without a word,
    # --worker-concurrency -1 ran no worker.
    result = runner.invoke(app, ["serve", option, value])
    assert result.exit_code == 2
    boxed = " ".join(result.stderr.replace("│", " ").split())
    assert f"Invalid value for '{option}': Input should be {limit}" in boxed


@pytest.mark.parametrize(
    "pem", [None, b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"]
)
def test_a_tls_certificate_that_does_not_load_is_refused_before_the_start(
    data_dir: Path, tmp_path: Path, pem: bytes | None
) -> None:
    certificate = tmp_path / "server.pem"
    if pem is not None:
        certificate.write_bytes(pem)
    message = refused("serve", "--ssl-certfile", str(certificate), "--ssl-keyfile", str(certificate))
    assert message.startswith(f"error: cannot load the TLS certificate {certificate} and key {certificate}: ")
    assert not data_dir.exists()


def test_a_worker_for_a_queue_that_does_not_exist_is_refused(data_dir: Path) -> None:
    # It used to start and wait for ever on a queue no job is put in.
    message = refused("worker", "--queue", "transcribe", "--queue", "transcibe")
    assert message.startswith("error: no queue named transcibe (queues: analyse, categories, deliver, ")
    assert not data_dir.exists()


@pytest.mark.parametrize("call_id", ["a b/c?d", "../etc", "x" * 201])
def test_a_call_id_the_api_would_refuse_is_refused(data_dir: Path, call_id: str) -> None:
    # The webhooks' rule: an id over 200 characters was a database traceback, one with '/' unreachable.
    message = refused("process", RECORDING, "--call-id", call_id)
    assert message.startswith(f"error: the call id '{call_id[:80]}' must be 1 to 200 letters, digits, ")
    assert not data_dir.exists()


@pytest.mark.parametrize("command", [["show", "abc123"], ["db", "status"]])
def test_a_data_dir_that_is_a_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    not_a_folder = tmp_path / "callsense-data"
    not_a_folder.write_text("")
    monkeypatch.setenv("CALLSENSE_DATA_DIR", str(not_a_folder))
    message = refused(*command)
    assert message == f"error: cannot use data_dir {not_a_folder}: it is a file, not a directory\n"


def test_a_new_data_dir_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """It holds the key file and the recordings; one that exists keeps the mode it was given."""
    made = Settings(data_dir=tmp_path / "new" / "callsense").make_data_dir()
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)
    shared.chmod(0o750)
    assert stat.S_IMODE(Settings(data_dir=shared).make_data_dir().stat().st_mode) == 0o750


def test_sensitive_with_events_is_refused_rather_than_ignored(data_dir: Path) -> None:
    message = refused("show", "any-call", "--events", "--sensitive")
    assert message.startswith("error: --sensitive shows the record as said;")
    assert not data_dir.exists()


def test_a_port_already_taken_is_refused_before_the_start(data_dir: Path) -> None:
    # It used to open everything, then end with uvicorn's own message and exit code 3.
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        message = refused("serve", "--host", "127.0.0.1", "--port", str(port))
    assert message == (
        f"error: cannot listen on 127.0.0.1:{port}: the port is in use; stop what holds it, or choose "
        "another port with --port or server.port (CALLSENSE_SERVER__PORT)\n"
    )
    assert not data_dir.exists()


def test_an_address_not_of_this_machine_is_refused_before_the_start(data_dir: Path) -> None:
    message = refused("serve", "--host", "192.0.2.1", "--port", "8000")  # TEST-NET-1: nobody's address
    assert message == (
        "error: cannot listen on 192.0.2.1:8000: Cannot assign requested address; check --host and --port, "
        "or server.host and server.port (CALLSENSE_SERVER__HOST, CALLSENSE_SERVER__PORT)\n"
    )
    assert not data_dir.exists()


def test_a_backup_directory_that_cannot_be_made_is_refused_before_the_passphrase(
    data_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("hello\n")
    target = tmp_path / "notes.txt" / "backup"
    message = refused("backup", "create", str(target))  # no prompt: nothing on stdout
    assert message == (
        f"error: cannot make the backup directory {target}: {tmp_path / 'notes.txt'} is not a directory\n"
    )
    assert not data_dir.exists()


@pytest.mark.parametrize("command", [["create", "new-backup"], ["restore", "."], ["verify", "."]])
def test_a_backup_without_a_passphrase_or_a_terminal_says_how_to_give_one(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    # a timer or cron job that lacks the passphrase: it used to print getpass's warning and "Aborted."
    monkeypatch.chdir(tmp_path)
    if command[0] != "create":
        (tmp_path / "manifest.json").write_text(json.dumps(_sealed_manifest()))
        (tmp_path / "database.dump").write_bytes(b"")
        (tmp_path / "keyring.wrapped.json").write_bytes(b"")
    message = refused("backup", *command)
    assert message == (
        "error: no passphrase for the key ring, and no terminal to ask for it: set "
        "CALLSENSE_BACKUP_PASSPHRASE or give --passphrase-file FILE\n"
    )
    assert not data_dir.exists()


def _sealed_manifest() -> dict[str, object]:
    empty = {"sha256": hashlib.sha256(b"").hexdigest(), "size": 0}
    return {
        "created_at": "2026-12-06T10:00:00Z",
        "callsense_version": "0.1.0+g0123456789ab",
        "schema_revision": "0013",
        "postgresql_server": 15,
        "pg_dump": 15,
        "calls": 0,
        "blobs": 0,
        "missing_blobs": [],
        "key_ring": {"kept": "wrapped", "file": "keyring.wrapped.json", "key_ids": ["k"], "active": "k"},
        "files": {"database.dump": empty, "keyring.wrapped.json": empty},
    }


def test_a_worker_whose_blob_dir_is_a_file_stops_with_one_line(data_dir: Path, tmp_path: Path) -> None:
    # it stopped with a FileExistsError traceback
    (tmp_path / "recordings").write_text("a file where the archive should be")
    os.environ["CALLSENSE_BLOB_DIR"] = str(tmp_path / "recordings")  # data_dir's fixture restores the rest
    try:
        message = refused("worker")
    finally:
        del os.environ["CALLSENSE_BLOB_DIR"]
    assert message == f"error: cannot use blob_dir {tmp_path / 'recordings'}: it is a file, not a directory\n"
