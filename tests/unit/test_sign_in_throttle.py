"""The sign-in throttle's pure parts: how clients are counted, and the bounded pool that checks passwords."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from callsense.web.throttle import HashingPool, client_key


def test_clients_are_counted_by_ipv4_address_or_ipv6_slash_64() -> None:
    assert client_key("203.0.113.7") == "203.0.113.7"
    assert client_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert client_key("2001:db8:0:1::5") == client_key("2001:db8:0:1:ffff::1") == "2001:db8:0:1::/64"
    assert client_key("2001:db8:0:2::5") != client_key("2001:db8:0:1::5")
    assert client_key(None) == "unknown" and client_key("testclient") == "testclient"


def test_the_pool_checks_a_few_at_once_queues_a_few_and_refuses_the_rest() -> None:
    pool = HashingPool(workers=1, queue=1)
    release = threading.Event()
    running = pool.submit(release.wait)
    waiting = pool.submit(lambda: True)
    assert running is not None and waiting is not None
    assert pool.submit(lambda: True) is None  # full: refused at once, nothing waits on a thread
    assert not waiting.done()
    release.set()
    assert running.result(5) and waiting.result(5)
    again = pool.submit(lambda: "admitted")
    assert again is not None and again.result(5) == "admitted"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_passwords_are_checked_below_the_priority_of_everything_else() -> None:
    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    job = HashingPool(workers=1, queue=0).submit(niceness)
    assert job is not None
    assert job.result(5) >= min(19, niceness() + 10)
