"""A real BottleCRM (PyPI ``django-crm``) for the delivery tests, installed and started by the suite itself.

First run on a machine: a Python 3.12 virtual environment in ``~/.cache/callsense-tests/bottlecrm/venv``
(BottleCRM needs Python >= 3.12; found on PATH, under pyenv, or named by ``CS_TEST_PYTHON312``),
``django-crm`` installed from PyPI, a database migrated once (minutes) and dumped beside it. The cache is the
user's, not the checkout's: every clone and worktree on the machine shares it, as pip shares its wheels.
Later runs restore that dump into a fresh database (about two seconds) and start gunicorn on a free loopback
port. PostgreSQL is the server at ``CS_TEST_EXTERNAL_PG`` (127.0.0.1:5432); Redis (Celery's broker) at
127.0.0.1:6379. A file lock keeps two test sessions from installing at once.
"""

from __future__ import annotations

import fcntl
import glob
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, make_url, text

from tests.conftest import EXTERNAL_PG
from tests.servers import free_port

VERSION = "1.35.0"
USER_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
CACHE = Path(os.environ.get("CS_TEST_BOTTLECRM_DIR") or USER_CACHE / "callsense-tests" / "bottlecrm")
VENV = CACHE / "venv"
DUMP = CACHE / f"migrated-{VERSION}.dump"
SECRET_KEY = "callsense-tests-bottlecrm-signing-key-0123456789abcdef"
# What the delivery needs: write to post the call on a contact, read for the contact and idempotency look-ups.
SCOPES = ["interactions:write", "contacts:write", "interactions:read", "contacts:read"]

SETUP = """
import json
from common.models import Org, PersonalAccessToken, Profile, User
from contacts.models import Contact
user = User.objects.create(email="callsense@example.com", name="callsense")
org = Org.objects.create(name="Acme Support")
profile = Profile.objects.create(user=user, org=org, role="ADMIN", is_organization_admin=True)
contact = Contact.objects.create(org=org, first_name="Dana", last_name="Customer", phone="{phone}")
other = Contact.objects.create(org=org, first_name="Eli", last_name="Other", phone="+14155550199")
raw, _ = PersonalAccessToken.generate(profile, "callsense", scopes={scopes})
print("SETUP" + json.dumps({{"contact": str(contact.id), "other": str(other.id), "token": raw}}))
"""


@dataclass
class BottleCRM:
    url: str
    token: str
    contact_id: str
    other_contact_id: str
    phone: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30)

    def interactions(self, contact_id: str) -> list[dict[str, object]]:
        with self.client() as client:
            response = client.get("/api/interactions/", params={"contact": contact_id, "limit": 200})
        response.raise_for_status()
        rows: list[dict[str, object]] = response.json()["interactions"]
        return rows


def python312() -> str | None:
    """A Python >= 3.12 that actually runs (a pyenv shim for a version not selected does not)."""
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = [
        os.environ.get("CS_TEST_PYTHON312"),
        # 3.12 first: the version BottleCRM is built and tested on.
        *sorted(glob.glob(f"{root}/versions/3.1[2-9]*/bin/python3")),
        shutil.which("python3.12"),
        shutil.which("python3.13"),
    ]
    for candidate in candidates:
        if not candidate:
            continue
        probe = subprocess.run(
            [candidate, "-c", "import sys; sys.exit(sys.version_info < (3, 12))"],
            capture_output=True,
            check=False,
        )
        if probe.returncode == 0:
            return candidate
    return None


def _run(command: list[str], **options: object) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False, **options)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:3])}... failed ({result.returncode}):\n{result.stderr[-3000:]}"
        )
    return str(result.stdout)


@contextmanager
def _locked() -> Iterator[None]:
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _install(python: str) -> None:
    marker = VENV / f".installed-{VERSION}"
    if marker.exists():
        return
    shutil.rmtree(VENV, ignore_errors=True)
    _run([python, "-m", "venv", str(VENV)])
    _run([str(VENV / "bin" / "pip"), "install", "--quiet", f"django-crm=={VERSION}"])
    marker.touch()


def _env(database: str) -> dict[str, str]:
    url = make_url(EXTERNAL_PG)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "CALLSENSE_", "PYTHON"))}
    env.update(
        DJANGO_SETTINGS_MODULE="crm.settings",
        SECRET_KEY=SECRET_KEY,
        ENV_TYPE="dev",
        DEBUG="False",
        DBNAME=database,
        DBUSER=url.username or "postgres",
        DBPASSWORD=url.password or "",
        DBHOST=url.host or "127.0.0.1",
        DBPORT=str(url.port or 5432),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/15",
        CELERY_RESULT_BACKEND="redis://127.0.0.1:6379/15",
    )
    if url.password:
        env["PGPASSWORD"] = url.password
    return env


def _pg_args() -> list[str]:
    url = make_url(EXTERNAL_PG)
    return ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres"]


def _create_database(name: str) -> None:
    admin = create_engine(EXTERNAL_PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def drop_database(name: str) -> None:
    admin = create_engine(EXTERNAL_PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _migrated_database(name: str, workdir: Path) -> None:
    """A database holding BottleCRM's schema: restored from the cached dump, or migrated and then dumped."""
    _create_database(name)
    env = _env(name)
    if not DUMP.exists():
        _run([str(VENV / "bin" / "django-admin"), "migrate", "--noinput"], env=env, cwd=workdir)
        partial = DUMP.with_suffix(".partial")
        _run(["pg_dump", *_pg_args(), "--no-owner", "-Fc", "-f", str(partial), name], env=env)
        partial.replace(DUMP)
        return
    _run(["pg_restore", *_pg_args(), "--no-owner", "-d", name, str(DUMP)], env=env)


@contextmanager
def running_bottlecrm(workdir: Path, *, phone: str) -> Iterator[BottleCRM]:
    python = python312()
    if python is None:
        raise RuntimeError("BottleCRM needs Python >= 3.12: install it (pyenv) or set CS_TEST_PYTHON312")
    database = f"bcrm_test_{uuid.uuid4().hex[:10]}"
    with _locked():
        _install(python)
    try:
        with _locked():  # the first session to get here migrates and caches the dump; the others restore it
            _migrated_database(database, workdir)
        env = _env(database)
        script = SETUP.format(phone=phone, scopes=json.dumps(SCOPES))
        output = _run([str(VENV / "bin" / "django-admin"), "shell", "-c", script], env=env, cwd=workdir)
        created = json.loads(next(line for line in output.splitlines() if line.startswith("SETUP"))[5:])
        port = free_port()
        log = (workdir / "gunicorn.log").open("wb")
        server = subprocess.Popen(
            [
                str(VENV / "bin" / "gunicorn"),
                "crm.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--threads",
                "4",
            ],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            crm = BottleCRM(
                url=f"http://127.0.0.1:{port}",
                token=created["token"],
                contact_id=created["contact"],
                other_contact_id=created["other"],
                phone=phone,
            )
            _wait_until_up(crm, server, workdir)
            yield crm
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
    finally:
        drop_database(database)


def _wait_until_up(crm: BottleCRM, server: subprocess.Popen[bytes], workdir: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            with crm.client() as client:
                if client.get("/api/contacts/", params={"limit": 1}).status_code == 200:
                    return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    sys.stderr.write((workdir / "gunicorn.log").read_text(errors="replace")[-3000:])
    raise RuntimeError("BottleCRM did not start; its log is above")
