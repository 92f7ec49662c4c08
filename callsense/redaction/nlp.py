"""The NLP engine Presidio reads: spaCy's tokenizer for every language (no download), and a language's NER
pipeline where one is installed (``ner_models``), whose PERSON entities become names."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import spacy
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
from spacy.language import Language


class TokenizerNlpEngine(NlpEngine):
    """Tokens and lower-case words as lemmas (Presidio's context words are matched against them, stop words
    left out, ``context_words`` never counted as such); entities from the pipeline ``ner`` loads for a
    language (a spaCy pipeline with an NER component; None: the language has none).

    Each language's pipeline is loaded on its first text, not up front: French's tokenizer alone takes seconds
    to build (docs/benchmarks.md), and a call in English never needs it."""

    def __init__(
        self,
        languages: list[str],
        context_words: frozenset[str],
        ner: Callable[[str], Language | None] | None = None,
    ) -> None:
        self._languages = languages
        self._ner = ner
        self._pipelines: dict[str, Language] = {}
        self._loading = threading.Lock()
        self._context_words = context_words

    def _pipeline(self, language: str) -> Language:
        with self._loading:
            if language not in self._pipelines:
                loaded = None if self._ner is None else self._ner(language)
                self._pipelines[language] = loaded or spacy.blank(language)
            return self._pipelines[language]

    def load(self) -> None:
        return None

    def is_loaded(self) -> bool:
        return True

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        doc = self._pipeline(language)(text)
        entities = [entity for entity in doc.ents if entity.label_ in ("PERSON", "PER")]
        for entity in entities:
            entity.label_ = "PERSON"
        return NlpArtifacts(
            entities=entities,
            tokens=doc,
            tokens_indices=[token.idx for token in doc],
            lemmas=[token.lower_ for token in doc],
            nlp_engine=self,
            language=language,
            scores=[0.85] * len(entities),
        )

    def process_batch(
        self, texts: Iterable[str], language: str, batch_size: int = 1, n_process: int = 1, **kwargs: Any
    ) -> Iterator[tuple[str, NlpArtifacts]]:
        for text in texts:
            yield text, self.process_text(text, language)

    def is_stopword(self, word: str, language: str) -> bool:
        return word not in self._context_words and bool(self._pipeline(language).vocab[word].is_stop)

    def is_punct(self, word: str, language: str) -> bool:
        return bool(self._pipeline(language).vocab[word].is_punct)

    def get_supported_entities(self) -> list[str]:
        return ["PERSON"]

    def get_supported_languages(self) -> list[str]:
        return list(self._languages)
