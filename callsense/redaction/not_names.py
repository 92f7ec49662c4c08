"""What is never a person's name, though spaCy's NER model (or a cue: "this is Visa") takes it for one.

The small NER models learnt names from news text: on a call they take a capitalised greeting at a turn's
start for a person ("Goodnight and thank you for calling", "Bonne nuit"), join it to the name that follows
("Goodnight Maria", "Merci Julien" as one person), and take payment brands and plan names for people ("I
paid with Mastercard", "the Gold plan"). Each such hit reads "[NAME]" where the call's sense was. So a name
hit loses the greetings, closings, thanks, answers, fillers and payment brands at its edges, and is no name
when nothing else is left, or when a plan or product word stands next to it.

The phrases of every language count in every language: a translation keeps the caller's greeting now and
then ("Buenas noches"), and every translation is redacted as English. Words that are also given names or
surnames ("Bill", "Ben", "Fine", "Day", months like "June" and weekdays like "Freitag") are left out: a name
must not be let through for looking like a greeting.
"""

from __future__ import annotations

import re

import regex

_COURTESY: dict[str, tuple[str, ...]] = {
    "en": (
        "hello", "hullo", "hi", "hiya", "hey", "howdy", "good morning", "morning", "good afternoon",
        "afternoon", "good evening", "evening", "good night", "goodnight", "night night", "good day", "g'day",
        "goodbye", "good bye", "bye", "bye-bye", "bye bye", "bye now", "see you", "see ya", "see you later",
        "speak soon", "take care", "cheers", "thanks", "thank you", "thankyou", "many thanks", "thanks a lot",
        "welcome", "you're welcome", "please", "sorry", "pardon", "excuse me", "okay", "ok", "okey-dokey",
        "alright", "all right", "sure", "yes", "yeah", "yep", "yup", "nope", "right", "well", "great",
        "perfect", "lovely", "brilliant", "awesome", "wonderful", "excellent", "cool", "absolutely",
        "exactly", "indeed", "certainly", "of course", "uh", "er", "erm", "hmm", "mm", "mhm", "mm-hmm",
        "uh-huh", "have a nice day", "have a good day", "have a great day", "have a good one",
        "have a nice evening", "have a good evening", "have a nice weekend", "have a good weekend",
        "have a great weekend", "merry christmas", "happy new year", "happy holidays", "one moment",
        "just a moment", "one second", "just a second", "hold on",
    ),
    "es": (
        "hola", "buenas", "buenos días", "buen día", "buenas tardes", "buenas noches", "adiós", "hasta luego",
        "hasta pronto", "hasta mañana", "chao", "chau", "gracias", "muchas gracias", "mil gracias",
        "de nada", "por favor", "perdón", "disculpe", "disculpa", "oiga", "dígame", "vale", "claro",
        "claro que sí", "perfecto", "bueno", "bien", "muy bien", "genial", "estupendo", "sí", "venga", "pues",
        "que tenga un buen día", "buen fin de semana", "feliz navidad", "feliz año nuevo", "un momento",
        "momento", "un segundo",
    ),
    "de": (
        "hallo", "guten morgen", "guten tag", "guten abend", "gute nacht", "n'abend", "moin", "servus",
        "grüß gott", "grüezi", "tschüss", "tschüs", "ciao", "auf wiederhören", "auf wiedersehen", "bis dann",
        "bis bald", "danke", "danke schön", "dankeschön", "vielen dank", "bitte", "bitte schön", "bitteschön",
        "gern geschehen", "gerne", "entschuldigung", "verzeihung", "genau", "alles klar", "ja", "nein",
        "gut", "sehr gut", "prima", "super", "klasse", "natürlich", "äh", "ähm", "schönen tag noch",
        "schönen abend noch", "schönes wochenende", "frohe weihnachten", "frohes neues jahr", "grüße",
        "schöne grüße", "viele grüße", "liebe grüße", "beste grüße", "mit freundlichen grüßen", "moment",
        "einen moment", "moment mal", "sekunde", "eine sekunde", "augenblick", "einen augenblick",
    ),
    "fr": (
        "bonjour", "bonsoir", "bonne nuit", "bonne journée", "bonne soirée", "bonne fin de journée",
        "bonne après-midi", "bon après-midi", "bon week-end", "bonne semaine", "au revoir", "à bientôt",
        "à demain", "à plus", "salut", "allô", "allo", "merci", "merci beaucoup", "merci bien", "de rien",
        "je vous en prie", "s'il vous plaît", "pardon", "excusez-moi", "désolé", "désolée", "d'accord",
        "très bien", "bien sûr", "parfait", "génial", "voilà", "entendu", "oui", "non", "euh", "bah",
        "joyeux noël", "bonne année", "un instant", "un moment", "une seconde",
    ),
}  # fmt: skip
_PAYMENT_BRANDS = (
    "visa", "mastercard", "master card", "maestro", "amex", "american express", "diners club", "paypal",
    "apple pay", "google pay", "carte bleue",
)  # fmt: skip
# A plan, product or business is named before its word in English and German ("the Gold plan",
# "Premium-Tarif", "big Jim's auto", "Epcotum's service"), a plan after it in Spanish and French ("el plan
# Premium", "le forfait Illimité").
_PRODUCT_WORDS_AFTER_ITS_NAME = (
    "plan", "tariff", "package", "bundle", "subscription", "membership", "tarif", "paket", "abo", "auto",
    "autos", "motors", "service", "services", "garage", "restaurant", "shop", "store", "bakery", "hotel",
    "insurance", "bank", "plumbing", "repairs", "inc", "llc", "ltd", "company", "group", "cafe", "diner",
    "pizza", "salon", "gmbh",
)  # fmt: skip
_PRODUCT_WORDS_BEFORE_ITS_NAME = ("plan", "tarifa", "paquete", "forfait", "offre", "abonnement", "formule")
# How a caller asks to be reached, a turn's first word the English model takes for a person ("Email me at…").
_CONTACT_VERBS = ("email", "e-mail", "text", "call", "phone", "message")
# A currency's name with the hit makes it no name ("I swapped Russian Ruble for UK pounds"); not those that
# are surnames too (Pound, Rand, Franc).
_CURRENCIES = (
    "ruble", "rubles", "rouble", "roubles", "euro", "euros", "dollar", "dollars", "pesos", "yen", "yuan",
    "rupee", "rupees", "zloty", "forint", "krona", "kronor", "dirham", "baht", "hryvnia",
)  # fmt: skip
# An acronym ("ATM", "PIN", "BBC") is no name's word, nor a word with a digit ("question4").
_ACRONYM_OR_DIGITS = re.compile(r"[A-Z]{2,4}|.*\d.*")


_APOSTROPHES = "'\u2019"  # Whisper writes either


def _alternatives(phrases: tuple[str, ...]) -> str:
    """One regular expression for ``phrases``: any spacing between their words, either apostrophe."""
    longest_first = sorted(set(phrases), key=len, reverse=True)
    return "|".join(
        r"\s+".join(re.escape(word).replace("'", f"[{_APOSTROPHES}]") for word in phrase.split())
        for phrase in longest_first
    )


_NOT_NAME_PHRASES = (
    *_PAYMENT_BRANDS,
    *_CONTACT_VERBS,
    *(phrase for phrases in _COURTESY.values() for phrase in phrases),
)
_NOT_NAME = re.compile(
    rf"(?i)(?<![\w{_APOSTROPHES}])(?:{_alternatives(_NOT_NAME_PHRASES)})(?![\w{_APOSTROPHES}])"
)
_REACH = max(len(phrase) for phrase in _NOT_NAME_PHRASES)  # how far before or after a hit a phrase can start
_WORD = re.compile(rf"[\w{_APOSTROPHES}-]+")
_PRODUCT_AFTER = re.compile(
    rf"(?i)(?:[{_APOSTROPHES}]s)?[\s-]+(?:{_alternatives(_PRODUCT_WORDS_AFTER_ITS_NAME)})\b"
)
_PRODUCT_BEFORE = re.compile(rf"(?i)\b(?:{_alternatives(_PRODUCT_WORDS_BEFORE_ITS_NAME)})\s+$")
_CURRENCY = re.compile(rf"(?i)\b(?:{_alternatives(_CURRENCIES)})\b")
# Names are found only where capitals tell them: a word of a script without them (Chinese, Japanese, Korean,
# Arabic, Hebrew, Hindi, Thai) or a number is no name's word. The NER models learnt names in Latin script: a
# word they take in another one (Russian words of a turn read as English) is none either.
_CASED = regex.compile(r"\p{LC}")
_LATIN = regex.compile(r"\p{Latin}")


def name_span(text: str, start: int, end: int, *, latin_only: bool = False) -> tuple[int, int] | None:
    """Where ``text[start:end]``, a name hit, can be a person's name: from its first to its last word that is
    not part of a greeting, thanks, filler or payment brand, an acronym or a word with a digit ("Goodnight
    Maria" is "Maria", "Bonne" of "Bonne journée" nothing); None when no such word is left, when a plan or
    product word stands beside it ("the Gold plan") or a currency is in it ("Russian Ruble"). A name's
    words hold letters of a script with capitals, of the Latin script where ``latin_only`` (an NER model's
    hit): "我要退款 谢谢" is no name."""
    letters = _LATIN if latin_only else _CASED
    around = _NOT_NAME.finditer(text, max(0, start - _REACH), min(len(text), end + _REACH))
    not_name = {index for phrase in around for index in range(*phrase.span())}
    words = [
        word
        for word in _WORD.finditer(text, start, end)
        if word.start() not in not_name
        and letters.search(word.group())
        and not _ACRONYM_OR_DIGITS.fullmatch(word.group())
    ]
    if not words or _PRODUCT_AFTER.match(text, end) or _PRODUCT_BEFORE.search(text, 0, start):
        return None
    if _CURRENCY.search(text, start, end):
        return None
    return words[0].start(), words[-1].end()
