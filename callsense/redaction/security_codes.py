"""The words that make three or four digits a card's security code (CVV) or PIN, and up to eight a passcode.

A security code has no form of its own: any three or four digits are one when the words around them (or
the question they answer) say so. Some words say so alone ("security", "CVV", "PIN", "digits",
"Prüfnummer", "cryptogramme"). Others are said of a card's code but of much else too: "código" of an
error, a customer or a discount, "back" of a refund, "au dos de la facture", "auf der Rückseite der
Rechnung". Such a word counts only beside a card word or a word of the other kind: "el código de la
tarjeta", "the code on the back", "der Code auf der Rückseite der Karte", but not "código de error
404" nor "I want my 250 back".
"""

from __future__ import annotations

from collections.abc import Iterable

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer

from callsense.config.redaction import EntityType
from callsense.redaction.context_words import any_said

PASSCODE = "PasscodeRecognizer"  # no check: its context words alone
# A PIN's, password's or one-time code's words ("Telefon-PIN", "Kennwort", "code secret", "clave secreta"):
# its digits may be more than a card code's, up to eight (``passcodes``).
_PASSCODE_WORDS = [
    "pin", "passcode", "password", "passwort", "kennwort", "geheimzahl", "contraseña", "secret", "otp",
]  # fmt: skip
SECURITY_CODE_WORDS = [
    "security", "cvv", "cvc", "cvv2", "digits", "seguridad", "dígitos", "prüfnummer", "sicherheitscode",
    "prüfziffer", "ziffern", "cryptogramme", "sécurité", "chiffres", *_PASSCODE_WORDS,
]  # fmt: skip
# "Code" and "back" in each language ("dos" is the French back, the Spanish two is a digit by then).
_CODE_WORDS = {"en": ("code",), "es": ("código", "codigo", "clave"), "de": ("code",), "fr": ("code",)}
_BACK_WORDS = {
    "en": ("back",),
    "es": ("detrás", "atrás", "reverso", "dorso"),
    "de": ("rückseite", "hinten"),
    "fr": ("dos", "verso"),
}
# A one-time code's "verification code": "verification" alone is said of every identity check ("2017 for
# attrition. And for verification, ma'am, do you know the purchase date?").
_VERIFICATION_WORDS = ("verification", "verificación", "vérification", "verifizierung")
WEAK_WORDS = sorted(
    {word for words in (*_CODE_WORDS.values(), *_BACK_WORDS.values(), _VERIFICATION_WORDS) for word in words}
)
# "Security" of social security names no card's code ("my social security check of 1400"): each such word
# with where the social word stands from it.
_SOCIAL_SECURITY = {"security": (-1, "social"), "seguridad": (1, "social"), "sécurité": (1, "sociale")}
# A back word said of something else: "the back door", "the back of the box", "au dos de la boîte", "die
# Rückseite der Verpackung" (what follows "of" names it, but for a card word or a pronoun: "the back of it").
_THINGS_AT_THE_BACK = ("door", "office", "yard", "garden", "seat", "room", "end", "pain")
_OF = ("of", "de", "del", "der", "des", "du", "von")
_ARTICLES = ("the", "a", "an", "my", "your", "la", "el", "le", "les", "mi", "su", "tu", "ma", "ta", "sa",
             "mon", "ton", "son", "votre", "die", "das", "den", "dem", "meiner", "ihrer")  # fmt: skip
_PRONOUNS = ("it", "this", "that", "ella", "esta", "sie", "elle", "celle-ci")
# Said in sentences of every kind ("call you back", "dos" as the Spanish two): no question lends them.
NOT_ASKED = ("back", "hinten", "dos", "verso")


def named_as_security_code(
    supporting: str, words: Iterable[str], language: str, card_words: Iterable[str]
) -> bool:
    """Whether a value that Presidio took for a security code by the context word ``supporting`` is one in
    ``language``: a word of ``SECURITY_CODE_WORDS`` says so alone (Presidio takes the first of its context
    words found, and those come first), but for the "security" of social security; a weak one only with a
    word of another kind, a code word, a back word (not one of something else: "the back of the box"), a
    verification word or a card word (``card_words``), among ``words`` (lower case: the value's sentence and
    the question it answers)."""
    said = list(words)
    if supporting in _SOCIAL_SECURITY:
        return not _all_social(said)
    if supporting not in WEAK_WORDS:
        return True
    card_words = list(card_words)
    back = any(
        any_said(_BACK_WORDS.get(language, ()), [word])
        and not _back_of_something_else(said, index, card_words)
        for index, word in enumerate(said)
    )
    kinds = (_CODE_WORDS.get(language, ()), card_words, _VERIFICATION_WORDS)
    return back + sum(any_said(kind, said) for kind in kinds) >= 2


def _back_of_something_else(said: list[str], index: int, card_words: list[str]) -> bool:
    """Whether the back word ``said[index]`` is said of something that is no card."""
    after = said[index + 1 : index + 5]
    if after[:1] and after[0] in _THINGS_AT_THE_BACK:
        return True
    if not after[:1] or after[0] not in _OF:
        return False
    named = [word for word in after[1:] if word not in _ARTICLES]
    return bool(named) and named[0] not in _PRONOUNS and not any_said(card_words, named[:1])


def _all_social(said: list[str]) -> bool:
    """Whether ``said`` holds a security word and each is social security's."""
    found = False
    for index, word in enumerate(said):
        if word in _SOCIAL_SECURITY:
            step, social = _SOCIAL_SECURITY[word]
            if not 0 <= index + step < len(said) or said[index + step] != social:
                return False
            found = True
    return found


def passcodes(language: str) -> EntityRecognizer:
    """A PIN, password or one-time code of five to eight digits (one of three or four is any security code's),
    next to its words only: "Meine Telefon-PIN ist 48291", "the verification code is 482913"."""
    return PatternRecognizer(
        supported_entity=EntityType.security_code.value,
        patterns=[Pattern("passcode", r"(?<![\d.,])\b\d{5,8}\b(?![.,]\d)", 0.05)],
        context=[*_PASSCODE_WORDS, *_VERIFICATION_WORDS],
        supported_language=language,
        name=PASSCODE,
    )
