"""The running version names the commit: read from a real git checkout in each of git's layouts (a branch,
a detached HEAD, packed refs, a worktree), from an installed package's metadata, else the release alone."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from callsense import version


def _git(where: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=where,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    root = tmp_path / "callsense"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("x")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "first")
    return root


def test_the_commit_is_read_in_every_layout_git_keeps(repository: Path, tmp_path: Path) -> None:
    first = _git(repository, "rev-parse", "HEAD")
    assert version._checkout_commit(repository) == first  # refs/heads/main, a loose file

    _git(repository, "pack-refs", "--all")
    assert not (repository / ".git" / "refs" / "heads" / "main").exists()
    assert version._checkout_commit(repository) == first  # packed-refs

    _git(repository, "commit", "-q", "--allow-empty", "-m", "second")
    second = _git(repository, "rev-parse", "HEAD")
    _git(repository, "worktree", "add", "-q", "-b", "h/ops", str(tmp_path / "wt"), first)
    assert (tmp_path / "wt" / ".git").is_file()
    assert version._checkout_commit(tmp_path / "wt") == first  # a worktree: its HEAD, the common refs
    assert version._checkout_commit(repository) == second

    _git(repository, "checkout", "-q", "--detach", first)
    assert version._checkout_commit(repository) == first  # a detached HEAD
    assert version._checkout_commit(tmp_path / "nowhere") is None


def test_an_installed_build_names_the_commit_it_was_built_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What `pip install .` from a checkout installs: no .git, the version in its metadata (from __version__).
    site = tmp_path / "site-packages"
    package = site / "callsense"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    info = site / "callsense-0.1.0+g0123456789ab.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: callsense\nVersion: 0.1.0+g0123456789ab\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(version, "_PACKAGE", package)
    assert version.running_version() == "0.1.0+g0123456789ab"

    # a copy of the code without .git, run beside that installed package: not its version, the release
    monkeypatch.setattr(version, "_PACKAGE", tmp_path / "copy" / "callsense")
    assert version.running_version() == version.RELEASE == "0.1.0"
