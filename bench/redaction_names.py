"""Precision of NAME redaction: what the redactor takes for a person's name in what callers and agents say.

    python -m bench.redaction_names [--show] [--whisper /tmp/heard-names.json]

Texts, each redacted as callsense redacts it (``PresidioRedactor``, NER models on):
- the turns of the committed fixtures' reference transcripts (tests/fixtures/audio/references.jsonl), in
  their language, as a perfect transcriber would write them;
- the English of every translation and analysis callsense stores, redacted as English: the fixtures'
  reference translations (bench/translation_references.jsonl) and the dashboard seed's summaries and
  translations (tests/dashboard_seed.py);
- ``PHRASES``: what is said around names on a call in en/es/de/fr (greetings and closings, fillers, card
  brands, weekdays and months, plan words), some of them next to a name;
- ``MISREAD_AS_ENGLISH``: turns of other languages read as English, and English ones with names spelt with
  letters English has not ("Jürgen Böhm", "Zoë");
- with ``--whisper``, whisper-base's turns and English translations of the fixture recordings.

Every name said is in ``NAMES``. A NAME span is false when none of its words is a name, too wide when it also
takes words that are neither a name nor a title ("Goodnight Maria" as one [NAME]); a name not inside a NAME
span is missed. Recall of names on the labelled set of bench/redaction.py: ``python -m bench.redaction
--script-only``.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from callsense.calls.schemas import Speaker
from callsense.config import Settings
from callsense.config.redaction import EntityType, RedactionSettings
from callsense.pipeline.redact import OUTPUT_LANGUAGE
from callsense.redaction.engine import PresidioRedactor
from callsense.redaction.words import core
from callsense.speech.audio import decode
from callsense.speech.whisper import WhisperTranscriber
from tests.conftest import AUDIO
from tests.dashboard_seed import SEEDS
from tests.unit.redaction_helpers import whisper_turn

TRANSLATIONS = Path(__file__).with_name("translation_references.jsonl")
NAMES = {
    "david", "sarah", "miller", "marie", "dupont", "maria", "thompson", "john", "smith", "jones", "anna",
    "schneider", "carmen", "ruiz", "lucía", "jean", "martin", "klaus", "becker", "julien", "robert", "hannah",
    "peter", "jürgen", "böhm", "zoë", "josé", "martínez", "søren", "müller", "françois", "lefèvre", "renée",
    "núñez", "şahin", "chloë", "élodie", "björn", "weiß", "giulia", "rossi", "jansen", "joão",
    "weber", "kovács", "luz", "lange", "yılmaz",  # noqa: RUF001
}  # fmt: skip
TITLES = {
    "mr",
    "mrs",
    "ms",
    "señor",
    "señora",
    "frau",
    "herr",
    "monsieur",
    "madame",
    "signora",
}  # redacted with a name, no harm done
PHRASES: dict[str, list[str]] = {
    "en": [
        "Goodnight.", "Goodnight, and thank you for calling.", "Goodnight and thank you for calling.",
        "Good night.", "Good morning, thanks for calling.", "Good afternoon.",
        "Good evening, how can I help?",
        "Morning!", "Have a nice day.", "Have a good one.", "Have a great weekend.", "Thanks, bye.",
        "Bye bye.", "Bye now.", "Cheers.", "Cheers, goodnight.", "Take care.", "See you.", "Many thanks.",
        "Thank you so much.", "You're welcome.", "Hello?", "Hello, are you there?", "Hi there.", "Hey.",
        "Howdy.", "Welcome to customer service.", "Goodbye.", "Good day.", "Sure.", "Okay.", "OK.",
        "Alright.", "Alright, thanks.", "All right then.", "Right.", "Yeah.", "Yep.", "Nope.", "Mm-hmm.",
        "Uh-huh.", "Pardon?", "Sorry?", "Excuse me.", "Perfect.", "Great.", "Awesome.", "Absolutely.",
        "Exactly.", "Lovely.", "Brilliant.", "Sounds good.", "Fine, thanks.", "Please hold.",
        "I paid with Visa.", "Okay, Visa.", "It's a Mastercard.", "I paid with Mastercard.",
        "Do you take American Express?", "My Maestro card.", "I'll use PayPal.",
        "I'll call you on Monday.", "Monday.", "Tuesday works.", "See you Friday.", "Wednesday or Thursday?",
        "Saturday morning.", "On Sunday, goodnight.", "In January.", "Since March.", "It was in April.",
        "By the end of June.", "September.", "The Premium plan.", "The Unlimited plan.",
        "I have the Gold plan.", "Broadband.", "Fibre.", "The Family bundle.", "My Basic package.",
        "Merry Christmas.", "Happy New Year.", "Goodnight, Maria.", "Goodnight Maria.",
        "Thanks Maria, goodnight.", "Goodnight, Mrs Miller.", "Hello, Mr Thompson.", "Hi John, how are you?",
        "Bye, Sarah!", "Thank you, David, have a nice day.", "Good morning, Mr Smith.",
        "Okay, Mrs Jones, you're all set.", "Cheers, Anna.",
        # Whole turns, as an agent and a caller say them.
        "Okay Hannah, I've updated the address. Is there anything else? No, that's all. Alright, bye.",
        "Lovely, thanks so much. Goodnight.", "Brilliant. Cheers, mate, have a good evening.",
        "Hiya, it's Robert here, calling about my bill.", "Morning, Peter speaking, how can I help?",
        "Great stuff, I'll send that over by Friday. Speak soon.", "Right, so the Visa ending in four two.",
        "Perfect, the Superfast plan starts in May.", "Cool, thank you. Bye-bye.",
        "Thanks a million, John. Night night.", "Good afternoon, you're through to billing, Anna speaking.",
        "Sorry, could you repeat that? Sure. Okay, got it.", "Happy holidays and goodbye.",
    ],
    "es": [
        "Buenas noches.", "Buenos días.", "Buenas tardes.", "Hola.", "Adiós.", "Hasta luego.",
        "Muchas gracias.", "De nada.", "Vale.", "Claro.", "Perfecto.", "Bueno.", "Pues nada, gracias.",
        "Que tenga un buen día.", "Pagué con Visa.", "Es una Mastercard.", "El lunes.", "En enero.",
        "El plan Premium.", "Buenas noches, Carmen.", "Hola, soy Lucía.", "Gracias, señor Ruiz, adiós.",
    ],
    "de": [
        "Gute Nacht.", "Guten Morgen.", "Guten Tag.", "Guten Abend.", "Hallo.", "Tschüss.",
        "Auf Wiederhören.", "Auf Wiedersehen.", "Danke schön.", "Bitte schön.", "Genau.", "Alles klar.",
        "Okay.", "Schönen Tag noch.", "Ich habe mit Visa bezahlt.", "Es ist eine Mastercard.", "Am Montag.",
        "Im Januar.", "Der Premium-Tarif.", "Gute Nacht, Frau Schneider.", "Hallo, hier ist Klaus Becker.",
    ],
    "fr": [
        "Bonne nuit.", "Bonsoir.", "Bonjour.", "Bonne journée.", "Bonne soirée.", "Au revoir.",
        "Merci, au revoir.", "Salut.", "D'accord.", "Très bien.", "Parfait.", "Allô ?", "Oui, bien sûr.",
        "À bientôt.", "Bon week-end.", "Je paie avec Visa.", "C'est une Mastercard.", "Lundi.",
        "En janvier.", "Le forfait Premium.", "Bonne nuit, Marie.", "Bonsoir Madame Dupont.",
        "Merci Julien, bonne journée.", "Au revoir, Monsieur Martin.",
        "Bonjour, Jean à l'appareil, je vous écoute.", "Voilà, c'est noté. Bonne fin de journée.",
        "Merci beaucoup, bonne soirée, au revoir.", "Parfait, le forfait Illimité commence lundi.",
    ],
}  # fmt: skip
# Read as English, as a turn of a call Whisper took for English (a German caller's turn in it, a word of
# another language in an English sentence) or a summary quoting one: ordinary turns of German, Spanish,
# French, Italian, Dutch and Portuguese, some with a name; and English ones with names spelt with letters
# English has not.
MISREAD_AS_ENGLISH = [
    "Ich möchte eine Rückerstattung, bitte.", "Die Rechnung ist falsch, ich will mein Geld zurück.",
    "Wo ist meine Lieferung? Seit Montag warte ich.", "Können Sie mir die Überweisung bestätigen?",
    "Vielen Dank für Ihre Geduld.", "Sie haben mir zweimal abgebucht.", "Schöne Grüße.",
    "Zahlungsbestätigung fehlt.", "Ich hätte gern eine Gutschrift.", "Die Lieferung ist beschädigt.",
    "Danke, Herr Böhm, bis morgen.", "Hallo, hier ist Jürgen Böhm.", "Frau Weiß hat mich gestern angerufen.",
    "Quiero un reembolso, por favor.", "Señora, no entiendo.", "Año pasado pagué lo mismo.",
    "¿Dónde está mi pedido?", "Me cobraron dos veces.", "Gracias, señor Núñez.", "Hola, soy Lucía Martínez.",
    "Je voudrais un remboursement.", "Reçu la facture hier.", "Désolée, je n'ai pas compris.",
    "Élodie m'a dit que c'était réglé.", "Merci François, bonne journée.", "Prélèvement refusé.",
    "Dov'è il mio ordine?", "Vorrei un rimborso, per favore.", "Grazie, signora Rossi.",
    "Mi chiamo Giulia Rossi.", "Ik wil mijn geld terug.", "Waar blijft mijn bestelling?",
    "Dank u, mevrouw Jansen.", "Quero o reembolso, por favor.", "Obrigado, João.",
    "My name is Jürgen Böhm.", "Jürgen Böhm.", "Thanks, Jürgen.", "Mr Böhm called yesterday.",
    "Zoë said she would call back.", "Thank you, Zoë.", "I spoke to José yesterday.", "José Martínez here.",
    "Hi, this is Søren.", "Okay, Mrs Müller.", "François Lefèvre called.", "Thanks, Renée.",
    "Núñez is my surname.", "Hello, Ms Şahin.", "Chloë Brontë.", "Björn will call you back.",
    "I asked for a Rückerstattung, the refund.", "The customer said Lieferung, meaning the delivery.",
    "She wants her Geld back.",
    # A German noun in an English sentence, short turns of languages py3langid does not tell, and English
    # sentences with names that are common words of their language, or rare in English.
    "She sent the Rechnung twice.", "Teşekkür ederim.", "Merhaba, nasılsınız?",  # noqa: RUF001
    "Grazie mille.", "Dziękuję bardzo.", "My name is Anna Weber.", "Anna Weber called.",
    "Weiß called yesterday.", "Kovács will call you back.", "Thanks, Luz.", "Lange sent the form yesterday.",
    "Yılmaz called yesterday.", "Teşekkürler, Yılmaz bey.", "I spoke to Frau Weiß.",  # noqa: RUF001
]  # fmt: skip


def _is_name(word: str) -> bool:
    return bool(NAMES & set(word.split("-")))  # Whisper's "Marie-Vipon" for Marie Dupont


def texts() -> list[tuple[str, str, str]]:
    """(source, language, text), each once."""
    said: list[tuple[str, str, str]] = []
    with (AUDIO / "references.jsonl").open(encoding="utf-8") as handle:
        for entry in map(json.loads, handle):
            said += [("fixture turns", entry["lang"], turn["text"]) for turn in entry["turns"]]
    with TRANSLATIONS.open(encoding="utf-8") as handle:
        said += [
            ("translations", OUTPUT_LANGUAGE, line)
            for entry in map(json.loads, handle)
            for line in entry["english"]
        ]
    for seed in SEEDS:
        said += [("seed summaries", OUTPUT_LANGUAGE, line) for line in seed.summary]
        said += [("translations", OUTPUT_LANGUAGE, line) for line in (seed.translation or "").splitlines()]
    said += [("phrases", language, text) for language, phrases in PHRASES.items() for text in phrases]
    said += [("misread as English", "en", text) for text in MISREAD_AS_ENGLISH]
    return list(dict.fromkeys(said))


def heard(kept: Path) -> list[tuple[str, str, str]]:
    """Whisper's turns and English translation (as the transcribe stage makes it) of each fixture recording,
    decoded once and kept in ``kept``."""
    if not kept.is_file():
        settings = Settings()
        transcriber = WhisperTranscriber(
            settings.asr,
            model_dir=settings.resolved_model_dir,
            speakers=settings.speakers,
            number_beam_size=RedactionSettings().number_beam_size,
        )
        said: list[tuple[str, str, str]] = []
        with (AUDIO / "references.jsonl").open(encoding="utf-8") as handle:
            for entry in map(json.loads, handle):
                if not entry["audio"].endswith(".flac"):  # the same call in other formats
                    continue
                audio = decode((AUDIO / entry["audio"]).read_bytes(), max_seconds=600)
                transcript = transcriber.transcribe(audio, language=entry["lang"])
                said += [("Whisper turns", entry["lang"], turn.text) for turn in transcript.segments]
                if entry["lang"] != OUTPUT_LANGUAGE:
                    translated = transcriber.translate(
                        audio, language=entry["lang"], speakers=transcript.speakers
                    )
                    said += [
                        ("Whisper translations", OUTPUT_LANGUAGE, line)
                        for line in translated.text.splitlines()
                    ]
        kept.write_text(json.dumps(said, ensure_ascii=False, indent=1))
    return [(source, language, text) for source, language, text in json.loads(kept.read_text())]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--show", action="store_true", help="print every text that has a NAME span or a name")
    parser.add_argument(
        "--whisper",
        type=Path,
        help="also Whisper's turns and English translations of the fixture recordings, kept in this JSON "
        "file (decoded on the first run, about two minutes on two cores)",
    )
    args = parser.parse_args()
    redactor = PresidioRedactor(RedactionSettings())
    console = Console(width=120)
    counts: Counter[tuple[str, str, str]] = Counter()
    for source, language, text in texts() + (heard(args.whisper) if args.whisper else []):
        turn = whisper_turn(Speaker.customer, text)
        redaction = redactor.redact_segments([turn], language=language)
        said = [core(word.text) for word in turn.words]
        named = {index for index, word in enumerate(said) if _is_name(word)}
        covered: set[int] = set()
        key = (source, language)
        counts[(*key, "texts")] += 1
        counts[(*key, "names")] += len(named)
        for span in redaction.spans:
            words = set(range(span.first_word, span.last_word + 1))
            covered |= words  # a name inside an e-mail address is hidden as well
            if span.entity != EntityType.name:
                continue
            counts[(*key, "spans")] += 1
            counts[(*key, "false")] += not words & named
            counts[(*key, "too wide")] += bool(words & named) and any(
                i not in named and said[i] not in TITLES for i in words
            )
        counts[(*key, "missed")] += len(named - covered)
        if args.show and (named or covered):
            console.print(f"[{language} {source}] {text}\n    -> {redaction.segments[0].text}", markup=False)
    table = Table(title="NAME spans on what callers and agents say")
    for column in ("source", "language", "texts", "NAME spans", "false", "too wide", "precision", "names",
                   "missed"):  # fmt: skip
        table.add_column(column)
    for source, language in dict.fromkeys((s, lang) for s, lang, _ in counts):
        row = {name: counts[(source, language, name)] for name in ("texts", "spans", "false", "too wide",
                                                                 "names", "missed")}  # fmt: skip
        precision = f"{1 - row['false'] / row['spans']:.2f}" if row["spans"] else "-"
        cells = [str(row[n]) for n in ("texts", "spans", "false", "too wide")] + [precision]
        table.add_row(source, language, *cells, str(row["names"]), str(row["missed"]))
    console.print(table)


if __name__ == "__main__":
    main()
