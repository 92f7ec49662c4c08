"""Which callsense is running: the release, and the commit it was built from where that is known.

``RELEASE`` alone says little: it changes only at a release, and every build in between (every ``git pull``
and ``pip install .`` of an installation that follows a branch) would call itself the same. The running
version is ``RELEASE+g<commit>`` (a PEP 440 local version), read:

- from the git checkout this code runs from (an editable install, ``PYTHONPATH``), without running git;
- else from the installed package's metadata, which the build took from the checkout it was built in
  (pyproject.toml reads ``callsense.__version__``);
- else ``RELEASE`` alone (a build from a copy without ``.git``, such as the container image's context).

Standard library only: the build imports this module to name the package.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

__all__ = ["RELEASE", "running_version"]

RELEASE = "0.1.0"

_PACKAGE = Path(__file__).resolve().parent
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def running_version() -> str:
    commit = _checkout_commit(_PACKAGE.parent)
    if commit is not None:
        return f"{RELEASE}+g{commit[:12]}"
    return _installed_version() or RELEASE


def _checkout_commit(root: Path) -> str | None:
    """The commit checked out in ``root`` (a repository or a worktree of one), or None."""
    try:
        git_dir = _git_dir(root)
        if git_dir is None:
            return None
        head = (git_dir / "HEAD").read_text().strip()
        if _COMMIT.fullmatch(head):  # a detached HEAD
            return head
        ref = head.removeprefix("ref: ")
        common = _common_dir(git_dir)
        for candidate in (git_dir / ref, common / ref):
            if candidate.is_file():
                found = candidate.read_text().strip()
                return found if _COMMIT.fullmatch(found) else None
        return _packed_ref(common / "packed-refs", ref)
    except (OSError, UnicodeDecodeError):
        return None


def _git_dir(root: Path) -> Path | None:
    dot_git = root / ".git"
    if dot_git.is_dir():
        return dot_git
    if dot_git.is_file():  # a worktree: "gitdir: <path>"
        target = dot_git.read_text().strip().removeprefix("gitdir: ")
        return (root / target).resolve()
    return None


def _common_dir(git_dir: Path) -> Path:
    """Where a worktree's branches live: the main repository's git directory."""
    pointer = git_dir / "commondir"
    return (git_dir / pointer.read_text().strip()).resolve() if pointer.is_file() else git_dir


def _packed_ref(packed: Path, ref: str) -> str | None:
    if not packed.is_file():
        return None
    for line in packed.read_text().splitlines():
        commit, _, name = line.partition(" ")
        if name == ref and _COMMIT.fullmatch(commit):
            return commit
    return None


def _installed_version() -> str | None:
    """The installed package's version, if this code is that package (not a copy run beside it)."""
    try:
        installed = metadata.distribution("callsense")
    except metadata.PackageNotFoundError:
        return None
    located = Path(str(installed.locate_file("callsense/__init__.py")))
    return installed.version if located.resolve() == _PACKAGE / "__init__.py" else None
