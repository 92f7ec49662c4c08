"""The NER pipelines that find names said without a cue ("Thanks, Mr Miller"): spaCy's small English and
French models from their PyPI wheels, each directory checked against its pin in ``assets/catalog.py`` before
spaCy reads it (from the directory: the wheel's own code is never imported). A language whose wheel is not
installed finds names by cue only ("my name is …")."""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

import spacy
from spacy.language import Language

from callsense.assets.catalog import NER_PIPELINES, PipelineDirectory
from callsense.errors import ModelAssetError

# Only what named entities need: the others (tagger, parser, lemmatizer) cost time and find nothing here.
_KEEP = {"tok2vec", "ner"}


def manifest_sha256(directory: Path) -> str:
    lines = sorted(
        f"{path.relative_to(directory).as_posix()} {hashlib.sha256(path.read_bytes()).hexdigest()}"
        for path in directory.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def installed_languages() -> tuple[str, ...]:
    """The languages whose pinned NER wheel is installed; each is checked and loaded on first use."""
    return tuple(language for language, pin in NER_PIPELINES.items() if _installed(pin.distribution))


def _installed(distribution: str) -> bool:
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def _directory(pin: PipelineDirectory) -> Path | None:
    if not _installed(pin.distribution):
        return None
    directory = Path(str(metadata.distribution(pin.distribution).locate_file(pin.path)))
    if not directory.is_dir():
        raise ModelAssetError(f"{pin.path} is missing from the installed package {pin.distribution}")
    if (actual := manifest_sha256(directory)) != pin.sha256:
        raise ModelAssetError(f"{directory} has manifest SHA-256 {actual}, expected {pin.sha256}")
    return directory


def load_ner_pipeline(language: str) -> Language | None:
    """The checked NER pipeline of ``language``; None when none is pinned or its wheel is not installed."""
    pin = NER_PIPELINES.get(language)
    directory = None if pin is None else _directory(pin)
    if directory is None:
        return None
    names = spacy.util.load_meta(directory / "meta.json")["pipeline"]
    return spacy.load(directory, exclude=[name for name in names if name not in _KEEP])


def load_ner_pipelines() -> dict[str, Language]:
    """Language -> its checked NER pipeline, for every pinned one that is installed."""
    return {language: pipeline for language in NER_PIPELINES if (pipeline := load_ner_pipeline(language))}
