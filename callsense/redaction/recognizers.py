"""The Presidio recognizers of each language: Presidio's own (Luhn-checked cards, IBAN checksum, phone numbers
through libphonenumber, national ids) and patterns for what it has none of (expiry, security codes and dates
of birth by context, addresses, names after "my name is"), each under one of ``EntityType``'s names."""

from __future__ import annotations

from presidio_analyzer import (
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerResult,
)
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    PhoneRecognizer,
    SpacyRecognizer,
)

from callsense.config.redaction import EntityType
from callsense.redaction.bank_accounts import ACCOUNT_WORDS, BANK_CODE_WORDS, domestic_accounts, ibans
from callsense.redaction.cards import HeardTooOftenCardRecognizer
from callsense.redaction.context_words import NUMBER_WORDS
from callsense.redaction.name_cues import NameAnswerRecognizer, NameCueRecognizer
from callsense.redaction.national_ids import NATIONAL_ID_WORDS, national_ids
from callsense.redaction.not_names import name_span
from callsense.redaction.other_language_words import other_language_words
from callsense.redaction.postal_codes import ADDRESS_WORDS, AFTER_A_STREET, POSTAL_CODE, postal_codes
from callsense.redaction.security_codes import NOT_ASKED, SECURITY_CODE_WORDS, WEAK_WORDS, passcodes
from callsense.redaction.sentence_language import sentence_language, sentences
from callsense.redaction.spelling import SpellingRecognizer

LANGUAGES = ("en", "es", "de", "fr")
# Entity types found in the digits-joined view; the others read the view with numbers kept apart.
JOINED_VIEW = {EntityType.card_number, EntityType.phone_number, EntityType.security_code}
# Written by Whisper in groups ("GB82 WEST 1234 …", "1 85 05 …") or read out digit by digit: both views.
BOTH_VIEWS = {EntityType.bank_account, EntityType.national_id}
LANGUAGE_INDEPENDENT = [
    EntityType.card_number,
    EntityType.bank_account,
    EntityType.email,
    EntityType.phone_number,
]

# "Card" and "phone", "number" in the languages without recognizers of their own (Russian, Arabic, Hebrew,
# Hindi, Thai, Korean, Chinese, Japanese, Turkish: "kart", "telefon" below), for a misheard number there.
# Stems, matched inside words: "карт" for карта, картой; "卡" inside 我的卡号是, written without spaces.
_CARD_WORDS_ELSEWHERE = ["карт", "بطاق", "כרטיס", "कार्ड", "บัตร", "카드", "卡", "カード"]
_PHONE_WORDS_ELSEWHERE = ["телефон", "номер", "мобильн", "هاتف", "جوال", "رقم", "موبايل", "טלפון", "נייד",
                          "מספר", "फ़ोन", "फोन", "नंबर", "मोबाइल", "โทร", "เบอร์", "전화", "번호",
                          "휴대폰", "电话", "電話", "手机", "手機", "号码", "號碼", "番号", "携帯",
                          "numara"]  # fmt: skip
# A context word counts inside a word from five letters, at its start at four, whole below (context_words.py):
# "kart" for Karte, Kartennummer, Whisper's "Kart" (Kreditkarte: "kreditkart"); "llam" for llámeme, llamar.
_CONTEXT: dict[EntityType, list[str]] = {
    EntityType.card_number: ["card", "visa", "mastercard", "amex", "tarjeta", "kart", "kreditkart",
                             "bankkart", "girokart", "carte", *_CARD_WORDS_ELSEWHERE],
    EntityType.bank_account: ["iban", "account", "cuenta", "ccc", "konto", "compte", "rib", "bank", "banco",
                              "banque"],
    EntityType.phone_number: ["phone", "number", "mobile", "cell", "call", "teléfono", "móvil", "número",
                              "telefon", "nummer", "handy", "rufnummer", "téléphone", "portable", "numéro",
                              # "call me on" in the other three: llámeme, llamar; appelez, rappeler; anrufen;
                              # "reach me at", "text me at", "me joindre au"
                              "llam", "llám", "appel", "anruf", "erreichen", "reach", "text", "joindre",
                              *_PHONE_WORDS_ELSEWHERE,
                              # the area code's word: "Die Vorwahl ist 030 und dann 12345678"
                              "vorwahl", "prefijo", "indicatif"],
    EntityType.email: ["email", "e-mail", "mail", "correo", "courriel", "adresse"],
    EntityType.card_expiry: ["expiry", "expires", "expiration", "expire", "valid", "until", "caducidad",
                             "caduca", "vence", "vencimiento", "ablaufdatum", "gültig", "läuft", "expire",
                             "validité", "jusqu"],
    EntityType.security_code: [*SECURITY_CODE_WORDS, *WEAK_WORDS],  # the weak ones checked by the engine
    EntityType.date_of_birth: ["born", "birth", "birthday", "dob", "nacimiento", "nací", "nacido", "nacida",
                               "geboren", "geburtsdatum", "geburtstag", "né", "née", "naissance"],
    EntityType.address: ADDRESS_WORDS,
    # A name spelled out: "Can you spell your surname?", "deletree su apellido", "buchstabieren", "épeler".
    EntityType.name: ["spell", "name", "surname", "nachname", "vorname", "apellido", "nombre", "deletr",
                      "buchstabier", "nom", "prénom", "épel"],
    EntityType.national_id: NATIONAL_ID_WORDS,
}  # fmt: skip
CARD_WORDS = _CONTEXT[EntityType.card_number]
MISHEARD = "MisheardRecognizer"  # what fails its type's check (Luhn, libphonenumber, "@") but has its context
# Every context word: the NLP engine must not drop one as a stop word ("call" and "until" are spaCy's).
CONTEXT_WORDS = frozenset(
    word for words in [*_CONTEXT.values(), BANK_CODE_WORDS, ACCOUNT_WORDS] for word in words
)
# The phone words that name a phone (``identifiers``): not "number" (``NUMBER_WORDS``), said of any number.
PHONE_WORDS = [word for word in _CONTEXT[EntityType.phone_number] if word not in NUMBER_WORDS]
# The context words a question lends to the answer after it (``engine``): those that name what is asked
# for, not the ones said in any sentence ("a number", "call", "valid until").
ASKED_WORDS = CONTEXT_WORDS - NUMBER_WORDS - {
    "call", "valid", "until", "läuft", "jusqu", "mail", "adresse", "llam", "llám", "appel",
    "erreichen", *NOT_ASKED}  # fmt: skip
# One word ending in a top-level domain: an address whose "@" Whisper lost (MisheardEmailRecognizer).
_ADDRESS_WITHOUT_AT = r"(?<![\w.\-])\w[\w.\-]*\.[a-z]{2,6}\b"
# The same at a mail provider's domain, a name before it as its first part: an address with no e-mail word
# near ("Das ist clause.wagna.gmail.com"), but not the provider's own sites ("mail.yahoo.com").
_AT_A_MAIL_PROVIDER = (
    r"(?<![\w.\-])\w[\w.\-]*\.(?:gmail|googlemail|gmx|web|t-online|outlook|hotmail|yahoo|icloud|aol|orange|"
    r"free|laposte|wanadoo|sfr)\.[a-z]{2,3}\b"
)
_PROVIDERS_SITES = ("www", "mail", "email", "webmail", "freemail", "login", "accounts", "my", "support",
                    "help")  # fmt: skip
_ADDRESS_MIN_LETTERS = 8  # before the top-level domain: "web.de" or "e-mail.de" alone is no address
# A name spelled as Whisper writes it, its letters joined by hyphens ("m-a-r-y-dot-s-m-i-t-h"), then one
# word for an "at" it misheard ("and"), then a domain: an address, whether an e-mail word is near or not.
_SPELLED_THEN_DOMAIN = (
    r"(?<![\w.\-])(?:[^\W\d_]-){2,}[^\W\d_](?:-[^\W\d_]+)*\s+\w+\s+[\w-]+(?:\.[\w-]+)*\.[a-z]{2,6}\b"
)
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre|"
    "januar|jänner|februar|märz|juni|juli|oktober|dezember|"
    "janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th|er|º|\.)?"
_YEAR = r"(?:19|20)\s?\d{2}"
_SAID_YEAR = rf"(?:{_YEAR}|\d{{2}})"  # or in two digits, as a date of birth is given ("eighty-five")
_DATE_PATTERNS = [
    Pattern("numeric date", rf"\b{_DAY}\s?[/.\-]\s?\d{{1,2}}\s?[/.\-]\s?{_SAID_YEAR}\b", 0.3),
    # "three fifteen eighty-five", "fifteen three nineteen eighty-five", "tres del tres del ochenta y cinco":
    # three numbers in a row
    Pattern("numeric date, spoken", rf"\b\d{{1,2}}\s(?:del?\s)?\d{{1,2}},?\s(?:del?\s)?{_SAID_YEAR}\b", 0.3),
    # Year first, as the LLM writes a date in a summary now and then ("born 1985/07/04", "1985-07-04": the
    # views read a number joined by hyphens as one, "19850704").
    Pattern("year first", rf"\b{_YEAR}\s?[/.]\s?\d{{1,2}}\s?[/.]\s?\d{{1,2}}\b", 0.3),
    Pattern("year first, joined", r"\b(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\b", 0.3),
    # with its year or without: a birthday is a date of birth too ("it's the 3rd of March")
    Pattern(
        "day month year",
        rf"(?i)\b{_DAY}\s(?:of\s|de\s)?(?:{_MONTHS})\b(?:,?\s(?:del?\s)?{_SAID_YEAR}\b)?",
        0.3,
    ),
    Pattern("month day year", rf"(?i)\b(?:{_MONTHS})\s{_DAY}(?:,?\s{_SAID_YEAR})?\b", 0.3),
    # the British "the twelfth of the fourth, eighty-nine"
    Pattern("day of the month", rf"(?i)\b{_DAY}\sof\sthe\s{_DAY},?\s{_SAID_YEAR}\b", 0.3),
]
# A word no Spanish street's name has: "en la calle con 2 amigos", "en la calle Mayor hay 3 tiendas".
_NO_STREET_NAME = r"(?!(?:con|y|en|por|para|sin|que|hay|tiene|tienen|son|es|está|están)\s)"
_DE_STREET = r"(?:straße|strasse|str\.|weg|platz|allee|gasse|ring|damm)"
_NOT_A_STREET = (
    "(?:der|die|das|den|dem|des|ein|eine|einen|einem|einer|auf|am|im|in|an|zum|zur|vom|von|über|unter|vor|"
    "hinter|neben|bei|mit|nach|und|oder|ich|wir|sie|er|es)"
)
# When, not where: "Am Montag 15", "Im Januar 3".
_WHEN = (
    "(?i:montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|wochenende|anfang|ende|" + _MONTHS + ")"
)
# The flat or floor after a street and its number, as the views write ordinals ("third floor" is "3rd
# floor", "tercero B" "3º B", "dritter Stock" "3. Stock", "troisième étage" "3ème étage"): none to three.
_UNITS = {
    language: rf"(?:,?\s(?:{unit}))" + "{0,3}"
    for language, unit in {
        "en": r"(?:apartment|apt\.?|suite|unit|flat)\s#?\d+\s?(?-i:[A-Z])?\b|\d{1,2}(?:st|nd|rd|th)\sfloor",
        "es": r"(?:piso|planta|puerta|escalera|portal|bloque)\s[\wº]+|bajo|ático|"
              r"\d{1,2}[ºoª](?:\s(?:(?-i:[A-Z])\b|izquierda|derecha|izda|dcha))?",
        "de": r"\d{1,2}\.\s(?:stock|etage|og|obergeschoss)|(?:wohnung|whg\.?|apartment)\s\w+|"
              r"hinterhaus|vorderhaus|seitenflügel|erdgeschoss|dachgeschoss",
        "fr": r"(?:appartement|appt|bâtiment|bât|escalier|porte|étage)\s[\w-]+|\d{1,2}(?:e|ème|er)\sétage|"
              r"rez-de-chaussée",
    }.items()
}  # fmt: skip
_ADDRESS_PATTERNS = [
    # a numbered street as the views write it: "350 Fifth Avenue" is "350 5th Avenue" there
    Pattern("en", r"(?i)\b\d{1,5}\s(?:(?:[A-Z][\w'-]*|\d+(?:st|nd|rd|th))\s){1,3}(?:street|st|road|rd|"
            r"avenue|ave|lane|drive|way|boulevard|court|place|close|crescent|terrace)\b" + _UNITS["en"], 0.6),
    # with the commas Whisper writes where the caller paused ("la calle, Mayor, 15")
    Pattern("es", r"(?i)\b(?:calle|avenida|avda|plaza|paseo|camino|carretera),?\s(?:de\s(?:la\s|los\s)?)?"
            rf"(?:{_NO_STREET_NAME}[\w'-]+\s){{0,2}}{_NO_STREET_NAME}[\w'-]+,?\s(?:n[úu]mero\s)?\d{{1,4}}\b"
            + _UNITS["es"] + AFTER_A_STREET, 0.6),
    # the street word in the name ("Bahnhofstraße 7") or after a word of it ("Berliner Straße 12"); not
    # after an article or a preposition ("der Damm 1963", "auf dem Platz 3")
    Pattern("de", rf"(?i)\b(?:[\w-]+{_DE_STREET}|(?!{_NOT_A_STREET}\s)(?-i:[A-ZÄÖÜ])[\w-]*\s{_DE_STREET})"
            r"\s\d{1,4}(?:\s?[a-z])?\b" + _UNITS["de"] + AFTER_A_STREET, 0.6),
    # a German street with no street word, after "Am", "Im", "An der"…: only next to an address word
    # ("Meine neue Adresse ist Am Lindenhof 12a"; not "Am Montag 15 Uhr")
    Pattern("de", r"\b(?-i:(?:Am|Im|An der|An den|In der|Auf der|Auf dem|Zum|Zur|Unter den)\s"
            rf"(?!{_WHEN}\b)[A-ZÄÖÜ][\w-]+)\s\d{{1,3}}(?:\s?[a-z])?\b"
            r"(?!\s(?:uhr|euro|prozent|mal|tage|monate|jahre))" + _UNITS["de"] + AFTER_A_STREET, 0.1),
    Pattern("fr", r"(?i)\b\d{1,4},?\s(?:bis\s|ter\s)?(?:rue|avenue|boulevard|bd|place|chemin|allée|impasse|"
            r"quai|route)\s(?:de la\s|des\s|du\s|de\s)?(?:[\w'-]+\s?){1,3}" + _UNITS["fr"] + AFTER_A_STREET,
            0.6),
]  # fmt: skip


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail pattern, without its check through tldextract (which fetches the suffix list)."""

    def validate_result(self, pattern_text: str) -> bool:
        top = pattern_text.rsplit(".", 1)[-1]
        return top.isalpha() and len(top) >= 2


class PersonRecognizer(SpacyRecognizer):
    """The persons of a language's NER model, less what is never a name (``not_names.py``): the greeting
    the model joins to a name ("Goodnight Maria"), or takes for one alone ("Bonne nuit"), payment brands and
    plan names. A sentence surely of another language (``sentence_language.py``: a German turn in a call
    taken for English, a Spanish one quoted in a summary) gets that language's rules: the
    persons of its own model, of ``models``, or none where it has none (names after a cue only, as in a call
    in that language), never this model's "[NAME]" for "Lieferung" or "lo mismo". Nor is a common word of
    another language in a sentence read as this one (``other_language_words.py``: "She wants her Geld
    back.", "Teşekkür ederim.")."""

    def __init__(self, language: str, models: tuple[str, ...]) -> None:
        super().__init__(supported_language=language, supported_entities=["PERSON"])
        self._models = models

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        found: list[RecognizerResult] = super().analyze(text, entities, nlp_artifacts)
        read_as: list[tuple[int, int, str]] = []  # each sentence, and the language its names were found in
        for start, end in sentences(text):
            spoken = sentence_language(text[start:end], self.supported_language)
            read_as.append((start, end, spoken or self.supported_language))
            if spoken is None:
                continue
            found = [result for result in found if not start <= result.start < end]
            if spoken in self._models and nlp_artifacts is not None:
                own = nlp_artifacts.nlp_engine.process_text(text[start:end], spoken)
                for result in super().analyze(text[start:end], entities, own):
                    result.start, result.end = result.start + start, result.end + start
                    found.append(result)
        kept = []
        for result in found:
            if (span := name_span(text, result.start, result.end, latin_only=True)) is None:
                continue
            start, end, language = next(s for s in read_as if s[0] <= span[0] < s[1])
            if not other_language_words(text, span, (start, end), language):
                result.start, result.end = span
                kept.append(result)
        return kept


class MisheardEmailRecognizer(PatternRecognizer):
    """An address whose "at" Whisper heard as another word has no "@" left ("Thomas.becker-art-web.de",
    "unterstrichschnittartgmx.de"), but is still one word of names and a domain: redacted, like a misheard
    number, only when "e-mail", "correo", "Adresse"… stand near it, or at a mail provider's domain
    ("clause.wagna.gmail.com"). A web address ("www.…", "mail.yahoo.com") and a short domain alone ("web.de")
    are none."""

    def __init__(self, language: str) -> None:
        super().__init__(
            supported_entity=EntityType.email.value,
            patterns=[
                Pattern("address without @", _ADDRESS_WITHOUT_AT, 0.3),
                Pattern("address without @ at a mail provider", _AT_A_MAIL_PROVIDER, 0.5),
            ],
            context=_CONTEXT[EntityType.email],
            supported_language=language,
            name=MISHEARD,
        )

    def invalidate_result(self, pattern_text: str) -> bool:
        before_domain = pattern_text.rsplit(".", 1)[0]
        letters = sum(character.isalpha() for character in before_domain)
        site = pattern_text.lower().split(".", 1)[0] in _PROVIDERS_SITES
        return site or letters < _ADDRESS_MIN_LETTERS


def _pattern(entity: EntityType, language: str, patterns: list[Pattern]) -> EntityRecognizer:
    return PatternRecognizer(
        supported_entity=entity.value,
        patterns=patterns,
        context=_CONTEXT.get(entity, []),
        supported_language=language,
        name=f"{entity.value.title().replace('_', '')}Recognizer",
    )


# The forms of an id number found by its words alone: digits, maybe after capitals (a member's "W123456789",
# a German health insurance's "A123456789"); six capitals and digits or more, a capital after a digit (a
# German identity card's or passport's "L01X00T47", a French passport's "12AB34567", or read out: "L 01 X
# 00 T 47"; not a plan's "XL2024"); the German pension insurance number ("65 170839 J 003") and tax number
# ("12/345/67890", "12 Schrägstrich 345…").
_ID_PATTERNS = (
    Pattern("id", r"\b(?-i:[A-Z]{1,3} ?)?\d{6,20}\b", 0.35),
    Pattern(
        "id of capitals among digits",
        r"(?-i:\b(?=(?:[A-Z\d] ?){6})(?=[A-Z ]*\d ?[A-Z ]*\d)(?=[A-Z\d ]*?\d ?[A-Z])"
        r"[A-Z\d]+(?: [A-Z\d]+)*\b)",
        0.35,
    ),
    Pattern("Sozialversicherungsnummer", r"\b\d{2} ?\d{6} ?(?-i:[A-Z]) ?\d{3}\b", 0.35),
    Pattern("Steuernummer", r"\b\d{2,3} ?(?:/|schrägstrich) ?\d{3,4} ?(?:/|schrägstrich) ?\d{4,5}\b", 0.35),
)


def _misheard(entity: EntityType, language: str, *patterns: Pattern) -> EntityRecognizer:
    """Digits as many as ``entity`` has, found by its context words alone: a hit of a checked recognizer on
    the same words (an SSN after "number") goes first."""
    return PatternRecognizer(
        supported_entity=entity.value,
        patterns=list(patterns),
        context=_CONTEXT[entity],
        supported_language=language,
        name=MISHEARD,
    )


def language_independent(language: str, phone_regions: tuple[str, ...]) -> list[EntityRecognizer]:
    """Cards, bank accounts, e-mails and phone numbers: what every language gets; a phone number said without
    its country code is one of ``phone_regions``'."""
    return [
        CreditCardRecognizer(supported_language=language, context=CARD_WORDS),
        HeardTooOftenCardRecognizer(language, CARD_WORDS),
        # A number Whisper misheard by a digit fails Luhn but is still most of a card: redacted by "card". No
        # upper bound: a digit read many times over is written too often ("Karte ist 4.01288888888888…").
        _misheard(EntityType.card_number, language, Pattern("card length", r"\b\d{13,}\b", 0.3)),
        *ibans(language, _CONTEXT[EntityType.bank_account]),
        # Likewise an account number that fails its check (IBAN, CCC, RIB) next to "IBAN", "cuenta", "Konto"…
        _misheard(EntityType.bank_account, language, Pattern("account length", r"\b\d{16,34}\b", 0.3)),
        OfflineEmailRecognizer(supported_language=language, context=_CONTEXT[EntityType.email]),
        MisheardEmailRecognizer(language),
        PatternRecognizer(
            supported_entity=EntityType.email.value,
            patterns=[Pattern("spelled, its at misheard", _SPELLED_THEN_DOMAIN, 0.5)],
            context=_CONTEXT[EntityType.email],
            supported_language=language,
            name="SpelledEmailRecognizer",
        ),
        PhoneRecognizer(
            supported_language=language,
            context=_CONTEXT[EntityType.phone_number],
            supported_regions=phone_regions,
        ),
        # Likewise a phone number Whisper heard a digit short or long ("202 / A 555-143") is no valid number
        # any more: redacted when "phone", "number", "call"… stand next to it; with its country code after
        # "00" or "+" too ("null null vier neun, eins fünf eins, …", a digit short).
        _misheard(
            EntityType.phone_number, language, Pattern("phone length", r"(?:\+|\b(?:00)?)\d{8,12}\b", 0.3)
        ),
    ]


def language_specific(language: str) -> list[EntityRecognizer]:
    """The recognizers of one of ``LANGUAGES`` beyond the independent ones."""
    expiry_year = r"20\s?\d{2}" if language == "en" else r"(?:20\s?)?\d{2}"
    expiry = [
        Pattern("month/year", r"\b(?:0?[1-9]|1[0-2])\s?[/\-]\s?(?:20)?\d{2}\b", 0.3),
        Pattern("month year, spoken", r"\b(?:0?[1-9]|1[0-2])\s(?:20)?\d{2}\b", 0.1),
        # How Whisper writes "twelve twenty-six" after an expiry question: "1226", "12.26".
        Pattern("month year run together", r"\b(?:0[1-9]|1[0-2])\.?(?:20)?\d{2}\b", 0.1),
        # The slash said ("doce barra veintiséis", "zwölf Schrägstrich…", "douze sur…") or "of" ("doce del…").
        Pattern(
            "month slash year, spoken",
            r"\b(?:0?[1-9]|1[0-2])\s(?:slash|barra|del?|schrägstrich|sur|barre)\s(?:20)?\d{2}\b",
            0.1,
        ),
        # "September 2027"; not "March 25", the day a plan runs "until"; but where the day goes before the
        # month, the number after it is a year ("im Dezember 26", "diciembre del 26")
        Pattern("month's name, year", rf"(?i)\b(?:{_MONTHS})\s(?:of\s|del?\s)?{expiry_year}\b", 0.1),
    ]
    security = [Pattern("3 or 4 digits", r"\b\d{3,4}\b", 0.1)]
    return [
        *national_ids(language, _CONTEXT[EntityType.national_id]),
        *domestic_accounts(language, _CONTEXT[EntityType.bank_account]),
        # An id number with no check of ours ("my ID number is 1734 1256…"), read out: next to its words only.
        _misheard(EntityType.national_id, language, *_ID_PATTERNS),
        _pattern(EntityType.card_expiry, language, expiry),
        _pattern(EntityType.security_code, language, security),
        passcodes(language),
        _pattern(EntityType.date_of_birth, language, [Pattern(p.name, p.regex, 0.1) for p in _DATE_PATTERNS]),
        _pattern(EntityType.address, language, [p for p in _ADDRESS_PATTERNS if p.name == language]),
        *postal_codes(language),
        NameCueRecognizer(language),
        NameAnswerRecognizer(language, _CONTEXT[EntityType.name]),
        SpellingRecognizer(language, _CONTEXT[EntityType.name]),
    ]


# Presidio's entity names for the types it recognises itself.
PRESIDIO_NAMES = {
    "CREDIT_CARD": EntityType.card_number,
    "IBAN_CODE": EntityType.bank_account,
    "EMAIL_ADDRESS": EntityType.email,
    "PHONE_NUMBER": EntityType.phone_number,
    "US_SSN": EntityType.national_id,
    "UK_NINO": EntityType.national_id,
    "UK_NHS": EntityType.national_id,
    "UK_POSTCODE": EntityType.address,
    POSTAL_CODE: EntityType.address,
    "ES_NIF": EntityType.national_id,
    "ES_NIE": EntityType.national_id,
    "DE_TAX_ID": EntityType.national_id,
    "PERSON": EntityType.name,
}
