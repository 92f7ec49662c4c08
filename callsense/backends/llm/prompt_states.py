"""llama.cpp's state after a system prompt, kept on disk so that a new process need not evaluate it again.

Every analysis starts with the same instructions (about 600 tokens: the field guide and the taxonomy). In a
long-running worker llama.cpp's prompt cache keeps them after the first call; a new process (each
``callsense process``, a worker after a restart) evaluated them again, about 10 s on 2 cores. The first
time a system prompt is used, the model is run on it with a one-character user message, and the slot's
state (its tokens and KV cache, about 18 MB) is saved through llama.cpp's ``/slots`` API; every later
process restores that file before its first request with this system prompt, and llama.cpp then reuses the
common prefix. A saved state holds the instructions and that one character, never call data.

The server has one slot. When a request takes it with other instructions, llama.cpp keeps the slot's prompt
in its RAM prompt cache (``cache_ram_mib``) and takes it back for the next request that shares its prefix;
a restore replaces the slot's prompt without keeping it. So a worker that restored the translation's state
after a call's analysis evaluated the analysis instructions again on the next call (and again after the
first question or merge). Before a restore into a slot that holds another prompt, a one-token request with
another prompt has llama.cpp keep it; that request, like the RAM cache, writes nothing to disk.

A file is named after everything that makes its state valid (engine version, model file, context size,
GPU layers, the system prompt); it is written under a temporary name and renamed, so processes sharing the
directory never read half a file. The most recently used ``KEPT_STATES`` files are kept. Anything that goes
wrong (a read-only directory, a busy slot) is logged and the request goes on as without a saved state.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import structlog

log = structlog.get_logger()

KEPT_STATES = 8
_WARM_UP_USER = "-"
_SUFFIX = ".bin"


def state_file_name(identity: str, system: str) -> str:
    """The file of ``system``'s state for a server of ``identity`` (what makes a state valid for it)."""
    return hashlib.sha256(json.dumps([identity, system]).encode()).hexdigest()[:32] + _SUFFIX


@contextmanager
def _logged(path: Path) -> Iterator[None]:
    """Anything that goes wrong with a state file is logged: requests go on without it."""
    try:
        yield
    except (OSError, httpx.HTTPError, ValueError, KeyError) as exc:
        log.warning("llm_prompt_state_failed", file=str(path), error=repr(exc))


class PromptStates:
    """The saved states of one loaded server (``server``: an ``xllamacpp.Server`` whose ``slot_save_path``
    is ``directory``, its ``/slots`` endpoint on ``address`` behind ``api_key``)."""

    def __init__(self, *, directory: Path, server: Any, address: str, api_key: str, identity: str) -> None:
        self.directory = directory
        self._server = server
        self._address = address
        self._api_key = api_key
        self._identity = identity
        self._primed: set[str] = set()
        self._holding: str | None = None  # the system prompt at the start of what the slot holds now
        self._lock = threading.Lock()

    @contextmanager
    def serving(self, system: str) -> Iterator[None]:
        """Hold the server for one request with ``system``, its state restored or saved first (once per
        system prompt and process). One request at a time: otherwise another thread's request could enter
        the slot between the warm-up and the save, and its call data would be written to disk with the
        state. The server has one slot, so requests wait for each other anyway."""
        with self._lock:
            if system not in self._primed:
                self._primed.add(system)  # tried once: a failure is not retried on every request
                self._prime(system)
            self._holding = system
            yield

    def prepare(self, systems: Sequence[str]) -> bool:
        """Save the state of each of ``systems`` that has none yet, ahead of the first request that uses it
        (which then restores it in milliseconds); False when one could not be saved (logged). The lock is
        let go between two saves: a request that came meanwhile may go first."""
        for system in systems:
            with self._lock:
                path = self._path(system)
                if not path.is_file():  # another process may have saved it meanwhile
                    with _logged(path):
                        self._save(system, path)
        return all(self._path(system).is_file() for system in systems)

    def _prime(self, system: str) -> None:
        path = self._path(system)
        with _logged(path):
            if path.is_file():
                if self._holding is not None:
                    self._keep_in_prompt_cache()
                self._restore(path)
            else:
                self._save(system, path)

    def _path(self, system: str) -> Path:
        return self.directory / state_file_name(self._identity, system)

    def _slot_action(self, action: str, filename: str) -> dict[str, Any]:
        response = httpx.post(
            f"{self._address}/slots/0",
            params={"action": action},
            json={"filename": filename},
            headers={"Authorization": f"Bearer {self._api_key}"},
            timeout=60,
            trust_env=False,
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def _keep_in_prompt_cache(self) -> None:
        """A restore replaces what the slot holds, and llama.cpp does not keep that in its RAM prompt cache,
        as it does when a request with another prompt takes the slot: the next request with the slot's
        current instructions would evaluate them again. So such a request comes first, one token long."""
        body = self._server.handle_completions({"prompt": _WARM_UP_USER, "n_predict": 0})
        if not isinstance(body, dict) or "error" in body:
            raise ValueError(f"llama.cpp refused the request that keeps the slot's prompt: {body!r:.200}")

    def _restore(self, path: Path) -> None:
        body = self._slot_action("restore", path.name)
        os.utime(path)  # recently used: kept by the pruning below
        log.info("llm_prompt_state_restored", file=str(path), tokens=body["n_restored"])

    def _save(self, system: str, path: Path) -> None:
        body = self._server.handle_chat_completions(
            {
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": _WARM_UP_USER},
                ],
                "max_tokens": 1,
                "temperature": 0.0,
            }
        )
        if not isinstance(body, dict) or "error" in body:  # e.g. instructions longer than the context
            raise ValueError(f"llama.cpp refused the warm-up: {body!r:.200}")
        self._holding = system
        partial = f"{path.stem}.{secrets.token_hex(4)}.part"
        saved = self._slot_action("save", partial)
        os.replace(self.directory / partial, path)
        log.info("llm_prompt_state_saved", file=str(path), tokens=saved["n_saved"])
        self._prune()

    def _prune(self) -> None:
        states = sorted(self.directory.glob(f"*{_SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in states[KEPT_STATES:]:
            stale.unlink(missing_ok=True)
