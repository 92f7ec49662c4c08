"""The assembled-model cache survives what a container image does to it: files copied into a layer lose the
fraction of a second of their mtime and are read by another user than the one that assembled them."""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
from importlib import metadata
from pathlib import Path

import pytest

from callsense.assets import catalog
from callsense.errors import ModelAssetError

# Any installed file stands in for a model's part: catalog reads parts through the distribution's metadata.
_PART = catalog.PackagedFile("typer", "typer/__init__.py")


def _asset(size_off_by: int = 0) -> catalog.ModelAsset:
    located = Path(str(metadata.distribution("typer").locate_file("typer/__init__.py")))
    data = located.read_bytes()
    part = catalog.AssembledFile(
        name="model.bin",
        parts=(_PART,),
        size=len(data) + size_off_by,
        sha256=hashlib.sha256(data).hexdigest(),
    )
    return catalog.ModelAsset(name="stand-in", kind="whisper", description="test", files=(part,))


def test_an_assembled_model_is_readable_by_everyone_and_kept_when_its_mtime_loses_its_fraction(
    tmp_path: Path,
) -> None:
    asset = _asset()
    target = catalog.ensure(asset, tmp_path) / "model.bin"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assembled = target.stat()

    whole_second = assembled.st_mtime_ns - assembled.st_mtime_ns % 1_000_000_000
    os.utime(target, ns=(whole_second, whole_second))  # as a container image's layer keeps it
    catalog.ensure(asset, tmp_path)
    assert target.stat().st_ino == assembled.st_ino  # not assembled again

    target.write_bytes(b"changed")
    catalog.ensure(asset, tmp_path)
    assert target.stat().st_ino != assembled.st_ino and catalog.verify(asset, tmp_path) == []


def test_a_part_shorter_than_pinned_is_refused_as_truncated_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(
        ModelAssetError, match=r"model.bin assembled from typer is .* bytes, expected .*truncated"
    ):
        catalog.ensure(_asset(size_off_by=68), tmp_path)
    assert list(tmp_path.rglob("*model.bin*")) == []


def test_an_assembly_removes_what_killed_ones_left_and_leaves_a_live_one(tmp_path: Path) -> None:
    # A worker killed while assembling (the OOM killer, a stop timeout) left its temporary file: up to the
    # model's size, never used. Another process's assembly in progress holds its own locked.
    directory = catalog.asset_dir(_asset(), tmp_path)
    directory.mkdir(parents=True)
    killed, live = directory / ".model.bin.k1ll3d", directory / ".model.bin.l1ve01"
    killed.write_bytes(b"half a model")
    live.write_bytes(b"a model being written")
    for leftover in (killed, live):
        hours_ago = os.stat(leftover).st_mtime - 2 * 3600
        os.utime(leftover, (hours_ago, hours_ago))
    writer = os.open(live, os.O_RDWR)
    try:
        fcntl.flock(writer, fcntl.LOCK_EX)  # as the other process's assembly holds it
        target = catalog.ensure(_asset(), tmp_path) / "model.bin"
        assert not killed.exists() and live.exists()
    finally:
        os.close(writer)
    assert catalog.verify(_asset(), tmp_path) == [] and target.is_file()

    catalog.ensure(_asset(), tmp_path)  # already assembled: the next start removes what is left all the same
    assert sorted(path.name for path in directory.iterdir()) == ["model.bin", "model.bin.verified"]
