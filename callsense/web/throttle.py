"""Limits on dashboard sign-ins, so that neither password guessing nor argon2's cost can be turned on us.

Two parts:

- ``reserve``: failed sign-ins are counted in PostgreSQL (``sign_in_attempts``) per user name, per client
  address and in total, so every ``serve`` process behind a load balancer enforces the same limits. An attempt
  takes its row *before* its password is checked, under a table lock, so the check and the count are one step:
  N concurrent guesses cannot pass a limit of M < N. A success deletes its row; a failure keeps it until it
  ages out of the window. Old rows are deleted on each reservation and no row is added beyond the total
  limit, so the table stays bounded however many user names are tried.
- ``HashingPool``: each process checks a few passwords at once on threads of its own (argon2 takes 64 MiB and
  four cores per check), with a short queue; sign-ins beyond it are refused at once rather than waiting on
  the thread pool that the webhooks and pages need.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from callsense.calls.users import SignInAttempt
from callsense.config.service import SignInSettings
from callsense.security import tokens

T = TypeVar("T")
# Password checks run below the server's other work: on Linux each thread has a nice value of its own, so
# while argon2 fills every core, webhooks and pages still get the CPU first.
HASHING_NICENESS = 10


class Limit(StrEnum):
    """Which limit refused a sign-in."""

    user = "user"
    client = "client"
    total = "total"


def client_key(host: str | None) -> str:
    """How a client is counted: its IPv4 address, or the /64 of an IPv6 address (one host owns a whole /64).

    ``host`` is the peer of the connection, or the client a trusted proxy named in X-Forwarded-For:
    ``callsense serve`` lets uvicorn replace it only for peers listed in ``--forwarded-allow-ips``."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return (host or "unknown")[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


def username_key(username: str) -> str:
    return tokens.digest(username.strip().lower())


def reserve(*, session: Session, limits: SignInSettings, username: str, client: str) -> uuid.UUID | Limit:
    """Count this attempt as a failure until ``succeeded`` says otherwise: its id, or the limit it would pass.

    The lock is held until the caller commits, which must happen before the password is checked so that the
    other processes see the attempt."""
    session.execute(text("LOCK TABLE sign_in_attempts IN SHARE ROW EXCLUSIVE MODE"))
    cutoff = func.now() - timedelta(seconds=limits.window_s)
    session.execute(delete(SignInAttempt).where(SignInAttempt.started_at <= cutoff))
    name = username_key(username)
    counts = session.execute(
        select(
            func.count().filter(SignInAttempt.username_sha256 == name),
            func.count().filter(SignInAttempt.client == client),
            func.count(),
        )
    ).one()
    for limit, count, most in zip(
        Limit,
        counts,
        (limits.max_failures_per_user, limits.max_failures_per_client, limits.max_failures_total),
        strict=True,
    ):
        if count >= most:
            return limit
    attempt = uuid.uuid4()
    session.execute(insert(SignInAttempt).values(id=attempt, username_sha256=name, client=client))
    return attempt


def succeeded(*, session: Session, attempt: uuid.UUID, username: str, client: str) -> None:
    """Forget this attempt and the earlier failures of the same name from the same client (the person's own
    typos); failures from other clients still count, so signing in does not reset someone else's guessing."""
    session.execute(
        delete(SignInAttempt).where(
            (SignInAttempt.id == attempt)
            | ((SignInAttempt.username_sha256 == username_key(username)) & (SignInAttempt.client == client))
        )
    )


class HashingPool:
    """At most ``workers`` password checks at once in this process and ``queue`` more waiting; ``submit``
    refuses the rest. Safe from any thread and event loop."""

    def __init__(self, *, workers: int, queue: int) -> None:
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="password-check", initializer=_below_other_work
        )
        self._capacity = workers + queue
        self._admitted = 0
        self._lock = threading.Lock()

    def submit(self, work: Callable[[], T]) -> Future[T] | None:
        """The running ``work``, or None when the pool and its queue are full."""
        with self._lock:
            if self._admitted >= self._capacity:
                return None
            self._admitted += 1
        future = self._executor.submit(work)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _: Future[T]) -> None:
        with self._lock:
            self._admitted -= 1


def _below_other_work() -> None:
    """Lower this (hashing) thread's CPU priority; a platform without per-thread priorities keeps it as is."""
    with contextlib.suppress(OSError, AttributeError):
        thread = threading.get_native_id()
        niceness = os.getpriority(os.PRIO_PROCESS, thread) + HASHING_NICENESS
        os.setpriority(os.PRIO_PROCESS, thread, min(19, niceness))
