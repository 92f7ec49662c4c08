"""Names by the words around them: after a cue ("my name is", "me llamo", "ich heiße", "je m'appelle", a
title…), and a turn that is only a name in answer to a question asking for one."""

from __future__ import annotations

import re

import regex
from presidio_analyzer import AnalysisExplanation, EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from callsense.config.redaction import EntityType
from callsense.redaction.not_names import name_span

# A title is a cue too, above all where no NER model is ("Danke, Herr Böhm", "Gracias, señor Núñez"), and in
# a turn read as English or French (``PersonRecognizer``); not "Miss" ("I miss Christmas") nor "don".
_TITLES = "|".join(
    f"[{title[0].upper()}{title[0]}]{title[1:]}"  # in lower case or capitalised: not "MS Teams"
    for title in (
        "mr", "mrs", "ms", "dr", "herr", "frau", "señor", "señora", "señorita", "doña", "monsieur", "madame",
        "mademoiselle", "signor", "signore", "signora", "signorina", "meneer", "mevrouw", "senhor", "senhora",
    )
)  # fmt: skip
# A name's word: a capital, then a small letter (or an apostrophe: "O'Brien"), letters, "'" and "-" after it;
# not a country code or a code with digits ("c'est FR15 2004…" of an IBAN read out is no "c'est Marie").
_NAME_WORD = r"(?-i:[A-ZÀ-Ý](?:[a-zß-ÿ]|'[A-ZÀ-Ýa-zß-ÿ])(?:[^\W\d_]|['-])*)"
_FORMAL_YOU = "(?-i:Ihnen|Ihre[mnrs]?|Ihr|Sie|Usted|Ustedes|Vous)"
_NAME_CUES = re.compile(
    r"(?i)\b(?:name's|this is|i am|i'm|me llamo|mi nombre es|soy|ich heiße|ich heisse|"
    r"mein name ist|hier ist|je m'appelle|je suis|mon nom est|c'est|"
    # an agent's greeting in the languages without an NER model: "le atiende Laura", "Sie sprechen mit
    # Petra Schmidt" (not a formal pronoun, capitalised in German: "Ich spreche mit Ihnen")
    r"le atiende|le habla|hier spricht|sprechen mit|spreche mit|"
    # a first or last name on its own (Whisper's "my last name is the Tilly" for "is Tilly")
    r"my (?:first |last |family |sur)?name is(?: the)?|surname is|mi apellido es|mis apellidos son|"
    r"mein (?:vor|nach|familien)name ist|mon (?:prénom|nom de famille) est|"
    # Italian, Dutch and Portuguese, for a turn in one of them in a call taken for another language
    r"mi chiamo|il mio nome è|mijn naam is|ik heet|me chamo|chamo-me|meu nome é|"
    rf"(?-i:{_TITLES})\.?)\s+"
    rf"(?P<name>(?!{_FORMAL_YOU}\b){_NAME_WORD}(?:\s{_NAME_WORD}){{0,2}})"
)
# An agent's greeting with the name before its cue, at a sentence's start: "Julie à votre écoute", "Service
# client, Julie à votre service", "Dupont à l'appareil", "Laura al habla", "Petra Schmidt am Apparat",
# "Acme, Julie speaking"; not a department's name ("Service Client à votre écoute", "Customer Care
# speaking").
_DEPARTMENT_WORDS = (
    "customer|care|service|services|support|team|help|helpdesk|billing|sales|accounts|desk|hotline|client|"
    "clients|clientèle|assistance|équipe|servicio|atención|cliente|clientes|soporte|equipo|facturación|"
    "kundenservice|kundendienst|kundencenter|buchhaltung|technical|technique|técnico|technik"
)
# A name's word that is no department's: the reason for a call given where a name was asked for too
# ("Can I have your name and the reason for your call?" / "Billing.").
_PERSON_WORD = rf"(?!(?i:{_DEPARTMENT_WORDS})\b){_NAME_WORD}"
_NAME_BEFORE_CUE = re.compile(
    rf"(?:^|(?<=[,.!?]\s))(?P<name>{_PERSON_WORD}(?:\s{_PERSON_WORD})?),?\s+"
    r"(?i:à votre écoute|à votre service|à l'appareil|al habla|a su servicio|am apparat|speaking)\b"
)
# "My name is" in the languages without recognizers of their own whose scripts have capitals to tell where a
# name ends (Russian, Turkish): not in Arabic, Hebrew, Hindi, Thai, Korean, Chinese or Japanese.
NAME_CUE_LANGUAGES = ("ru", "tr")
_NAME_CUES_ELSEWHERE = regex.compile(
    r"(?i)\b(?:меня зовут|моё имя|мое имя|benim ad\u0131m|benim ismim|ad\u0131m)\s+"
    r"(?P<name>(?-i:\p{Lu}[\w'-]+)(?:\s(?-i:\p{Lu}[\w'-]+)){0,2})"
)


# A turn that is only a name, maybe after a yes or "it's" ("Crystal Minh.", "Yes, it's Joyce Wu.").
_NAME_ANSWER = re.compile(
    r"\s*(?:(?i:yes|yeah|sure|okay|ok|it's|it is|that's|sí|claro|vale|es|soy|ja|klar|genau|oui|c'est)"
    r"[,.]?\s+)*"
    rf"(?P<name>{_PERSON_WORD}(?:\s{_PERSON_WORD}){{0,2}})[.!]?\s*"
)


class NameAnswerRecognizer(EntityRecognizer):
    """A turn that is only a name: a person's name where the question it answers asked for one ("May I have
    your name, please?" / "Crystal Minh"; the engine lends the question's "name", "nombre", "nom"…); alone it
    scores below the threshold ("Billing." / "Thanks.")."""

    def __init__(self, language: str, context: list[str]) -> None:
        super().__init__(
            supported_entities=[EntityType.name.value],
            supported_language=language,
            name="NameAnswerRecognizer",
            context=context,
        )

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        answer = _NAME_ANSWER.fullmatch(text)
        span = answer and name_span(text, answer.start("name"), answer.end("name"))
        if not span:
            return []
        # Presidio's context enhancer records the context word in the result's explanation.
        explanation = AnalysisExplanation(recognizer=type(self).__name__, original_score=0.1)
        return [RecognizerResult(EntityType.name.value, *span, 0.1, analysis_explanation=explanation)]


class NameCueRecognizer(EntityRecognizer):
    """Capitalised words after "my name is", "me llamo", "ich heiße", "je m'appelle" and the like, or before
    an agent's "à votre écoute", "al habla", "am Apparat": the names a caller or an agent gives, in languages
    without an NER model too; for the languages without recognizers of their own
    (``elsewhere``), after "меня зовут" and the Turkish "my name is"."""

    def __init__(self, language: str, *, elsewhere: bool = False) -> None:
        super().__init__(
            supported_entities=[EntityType.name.value], supported_language=language, name="NameCueRecognizer"
        )
        self._cues: list[re.Pattern[str] | regex.Pattern[str]] = (
            [_NAME_CUES_ELSEWHERE] if elsewhere else [_NAME_CUES, _NAME_BEFORE_CUE]
        )

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        return [
            RecognizerResult(EntityType.name.value, *span, 0.7)
            for cues in self._cues
            for match in cues.finditer(text)
            if (span := name_span(text, match.start("name"), match.end("name")))
        ]
