"""The labelled set of bench/redaction.py: what callers say in en/es/de/fr, and the entity each holds.

Each item is one caller's turns (a number split over two turns has two parts; the agent's "Mm-hmm" goes
between them), the entity type it holds (None: no personal data), and what must not survive redaction:
the digits of a number, or the words of a name, e-mail, address or date.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    language: str
    parts: tuple[str, ...]
    entity: str | None
    secret: str  # the digits (numbers) or lower-case words (anything else) that must not remain


def _item(language: str, entity: str | None, secret: str, *parts: str) -> Item:
    return Item(language, parts, entity, secret)


CARD, PHONE, EMAIL = "CARD_NUMBER", "PHONE_NUMBER", "EMAIL"
NAME, ADDRESS, BIRTH = "NAME", "ADDRESS", "DATE_OF_BIRTH"

ITEMS = [
    # English: the Piper voice.
    _item(
        "en",
        CARD,
        "4111111111111111",
        "My card number is four one one one, one one one one, one one one one, one one one one.",
    ),
    _item(
        "en",
        CARD,
        "5555555555554444",
        "It's five five five five, five five five five,",
        "uh, five five five five, four four four four.",
    ),
    _item(
        "en",
        CARD,
        "4012888888881881",
        "The card is four oh one two, eight eight eight eight, eight eight eight eight, one eight eight one.",
    ),
    _item(
        "en",
        CARD,
        "4242424242424242",
        "Four two four two, sorry, four two four two, four two four two, four two four two, "
        "four two four two.",
    ),
    _item("en", PHONE, "4155552671", "You can call me on four one five, five five five, two six seven one."),
    _item("en", PHONE, "07911123456", "My mobile is oh seven nine one one, one two three, four five six."),
    _item("en", PHONE, "2025550143", "The number is two oh two,", "uh, five five five, oh one four three."),
    _item("en", EMAIL, "anna schmidt gmail", "My email is anna dot schmidt at gmail dot com."),
    _item("en", EMAIL, "peter jones outlook", "It's peter jones at outlook dot com, all one word."),
    _item("en", NAME, "robert miller", "My name is Robert Miller."),
    _item("en", NAME, "miller", "Please send the letter to Robert Miller."),
    _item("en", ADDRESS, "oak", "I live at forty two Oak Street."),
    _item("en", BIRTH, "1982", "I was born on the fourteenth of July nineteen eighty two."),
    _item("en", None, "", "I have two questions about my bill, and one of them is about the fee."),
    # Spanish, German and French: espeak-ng voices.
    _item(
        "es",
        CARD,
        "4111111111111111",
        "Mi tarjeta es cuatro uno uno uno, uno uno uno uno, uno uno uno uno, uno uno uno uno.",
    ),
    _item(
        "es",
        CARD,
        "5555555555554444",
        "Es cinco cinco cinco cinco, cinco cinco cinco cinco,",
        "eh, cinco cinco cinco cinco, cuatro cuatro cuatro cuatro.",
    ),
    _item(
        "es",
        CARD,
        "4012888888881881",
        "La tarjeta es cuatro cero uno dos, ocho ocho ocho ocho, ocho ocho ocho ocho, uno ocho ocho uno.",
    ),
    _item("es", PHONE, "612345678", "Mi móvil es seis uno dos, tres cuatro cinco, seis siete ocho."),
    _item(
        "es", PHONE, "915551234", "El teléfono es nueve uno cinco,", "eh, cinco cinco uno, dos tres cuatro."
    ),
    _item("es", EMAIL, "carmen ruiz gmail", "Mi correo es carmen punto ruiz arroba gmail punto com."),
    _item("es", NAME, "carmen ruiz", "Me llamo Carmen Ruiz."),
    _item("es", NAME, "ruiz", "Envíe la carta a Carmen Ruiz, por favor."),
    _item("es", ADDRESS, "mayor", "Vivo en la calle Mayor quince."),
    _item("es", BIRTH, "1982", "Nací el catorce de julio de mil novecientos ochenta y dos."),
    _item("es", None, "", "Tengo dos preguntas sobre mi factura."),
    _item(
        "de",
        CARD,
        "4111111111111111",
        "Meine Karte ist vier eins eins eins, eins eins eins eins, eins eins eins eins, eins eins eins eins.",
    ),
    _item(
        "de",
        CARD,
        "5555555555554444",
        "Das ist fünf fünf fünf fünf, fünf fünf fünf fünf,",
        "äh, fünf fünf fünf fünf, vier vier vier vier.",
    ),
    _item(
        "de",
        CARD,
        "4012888888881881",
        "Die Karte ist vier null eins zwei, acht acht acht acht, acht acht acht acht, eins acht acht eins.",
    ),
    _item(
        "de",
        PHONE,
        "01712345678",
        "Meine Handynummer ist null eins sieben eins, zwei drei vier, fünf sechs sieben acht.",
    ),
    _item(
        "de",
        PHONE,
        "03012345678",
        "Die Nummer ist null drei null,",
        "äh, eins zwei drei vier, fünf sechs sieben acht.",
    ),
    _item("de", EMAIL, "thomas becker web", "Meine E-Mail ist thomas punkt becker at web punkt de."),
    _item("de", NAME, "thomas becker", "Ich heiße Thomas Becker."),
    _item("de", NAME, "becker", "Schicken Sie den Brief bitte an Thomas Becker."),
    _item("de", ADDRESS, "bahnhofstraße", "Ich wohne in der Bahnhofstraße sieben."),
    _item("de", BIRTH, "1982", "Ich bin am vierzehnten Juli neunzehnhundertzweiundachtzig geboren."),
    _item("de", None, "", "Ich habe zwei Fragen zu meiner Rechnung."),
    _item(
        "fr",
        CARD,
        "4111111111111111",
        "Ma carte c'est quatre un un un, un un un un, un un un un, un un un un.",
    ),
    _item(
        "fr",
        CARD,
        "5555555555554444",
        "C'est cinq cinq cinq cinq, cinq cinq cinq cinq,",
        "euh, cinq cinq cinq cinq, quatre quatre quatre quatre.",
    ),
    _item(
        "fr",
        CARD,
        "4012888888881881",
        "La carte est quatre zéro un deux, huit huit huit huit, huit huit huit huit, un huit huit un.",
    ),
    _item(
        "fr",
        PHONE,
        "0612345678",
        "Mon portable est zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit.",
    ),
    _item(
        "fr",
        PHONE,
        "0145678912",
        "Le numéro est zéro un,",
        "euh, quarante-cinq, soixante-sept, quatre-vingt-neuf, douze.",
    ),
    _item("fr", EMAIL, "julien moreau orange", "Mon email est julien point moreau arobase orange point fr."),
    _item("fr", NAME, "julien moreau", "Je m'appelle Julien Moreau."),
    _item("fr", NAME, "moreau", "Envoyez la lettre à Julien Moreau, s'il vous plaît."),
    _item("fr", ADDRESS, "victor hugo", "J'habite au huit rue Victor Hugo."),
    _item("fr", BIRTH, "1982", "Je suis né le quatorze juillet mille neuf cent quatre-vingt-deux."),
    _item("fr", None, "", "J'ai deux questions sur ma facture."),
]
