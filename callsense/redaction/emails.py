"""Spoken e-mail addresses written as addresses, on one speaker's tokens once ``digits`` has written the
numbers among them: "anna dot schmidt at gmail dot com", "jose guion bajo garcia arroba hotmail punto es",
"klaus punkt wagner Klammeraffe gmail punkt com", and the forms Whisper writes them in ("Carmen.ruiz,
arrobajemael.com", "julien-moreau-arobas-orange.fr", "annadotschmidtatgmail.com")."""

from __future__ import annotations

import re

from callsense.redaction.words import core

# "@" said aloud: French writes it "arobase" or "arobas", German callers also say "Klammeraffe", Italians
# "chiocciola", Russians "собака" (dog), Israelis "שטרודל" (strudel), Japanese "アットマーク", Koreans
# "골뱅이" (snail) or "앳"; Arabic, Chinese, Thai and Hindi speakers say "at", which Whisper writes in their
# script ("آت", "艾特", "แอท", "एट"); Spanish and Portuguese "arroba" sounds the same written "arrova" (b and
# v are one sound). Not the Turkish "et": it is the French "and" ("mon email, et julien…").
_AT = {"at", "arroba", "arrova", "arobase", "arobas", "arrobase", "@", "ät", "klammeraffe", "chiocciola",
       "собака", "собачка", "שטרודל", "アットマーク", "골뱅이", "앳", "آت", "ات", "艾特", "แอท", "एट",
       "ऐट"}  # fmt: skip
_SPLIT_AT = ("a", "roba")  # how Whisper also writes "arroba"
# "dot" said aloud; in Korean "닷" or "점", in Turkish "nokta", in Arabic "دوت" or "نقطة", in Chinese "点",
# in Thai "ดอท" or "จุด", in Hindi "डॉट".
_DOT = {"dot", "punto", "point", "punkt", "ponto", "точка", "נקודה", "ドット", "닷", "점", "nokta", "دوت",
        "نقطة", "نقطه", "点", "點", "ดอท", "จุด", "डॉट", "डोट"}  # fmt: skip
# English says "dot": "at this point. Can you…" and "at a point of sale" are no addresses.
_NOT_A_DOT_IN = {"en": {"point"}}
_EMAIL_JOINERS = {"underscore": "_", "dash": "-", "hyphen": "-", "guion": "-", "tiret": "-", "strich": "-",
                  "bindestrich": "-", "unterstrich": "_", "guión": "-", "trattino": "-", "hífen": "-",
                  "traço": "-", "minus": "-"}  # fmt: skip
# Joiners said in two words: "guion bajo" and "tiret bas" are "_", not the "-" of "guion" and "tiret" alone.
_EMAIL_JOINER_PAIRS = {("guion", "bajo"): "_", ("guión", "bajo"): "_", ("barra", "baja"): "_",
                       ("tiret", "bas"): "_", ("trattino", "basso"): "_"}  # fmt: skip
_EMAIL_PART = re.compile(r"[\w.\-+]+")
_INNER_DOT = re.compile(r"[^\W_][._][^\W_]")  # "lucia.fernan": part of an address Whisper wrote out
# One word in which Whisper ran a spoken address together: "annadotschmidtatgmail.com".
_GLUED_EMAIL = re.compile(r"(?P<local>[a-z0-9.]+?)at(?P<domain>[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,})")
# The Spanish or French "at" run together with the domain after the address's first part: "carmen.ruiz,"
# "arrobajemael.com".
_GLUED_AT = re.compile(
    r"(?P<at>arroba|arrova|arobase|arobas|roba)[.\-]?(?P<domain>[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,})"
)
# A whole address in one word, the spoken "at" set off by hyphens or dots: "julien-moreau-arobas-orange.fr".
_HYPHENATED_EMAIL = re.compile(
    r"(?P<local>[\w.-]+?)[-.](?:at|ät|arroba|arobase|arobas|klammeraffe)[-.]"
    r"(?P<domain>[\w-]+(?:\.[\w-]+)*\.[a-z]{2,})"
)


def _joiner_before(words: list[str], index: int) -> tuple[int, str] | None:
    """The "dot", "underscore" or "guion bajo" that ends just before ``words[index]``: how many words it
    takes and the character it stands for."""
    if index >= 3 and (core(words[index - 2]), core(words[index - 1])) in _EMAIL_JOINER_PAIRS:
        return 2, _EMAIL_JOINER_PAIRS[(core(words[index - 2]), core(words[index - 1]))]
    if index >= 2 and core(words[index - 1]) in _DOT:
        return 1, "."
    if index >= 2 and core(words[index - 1]) in _EMAIL_JOINERS:
        return 1, _EMAIL_JOINERS[core(words[index - 1])]
    return None


def _spelled(words: list[str], end: int) -> tuple[int, str]:
    """The word ``words[end]`` of an address, or the run of single letters it ends ("j o h n", "J. O. H.
    N."): its first word and its text."""
    first, text = end, core(words[end])
    if len(text) == 1 and text.isalpha():
        while first >= 1 and len(letter := core(words[first - 1])) == 1 and letter.isalpha():
            first, text = first - 1, letter + text
    return first, text


def _local_part(words: list[str], end: int, numbers: dict[int, tuple[int, str]]) -> tuple[int, str] | None:
    """The first word and the text of an address's part before "at" that ends with ``words[end]``.
    ``numbers`` maps the last word of each spoken number to its first word and digits: a number said just
    before "at" belongs to the word before it ("mueller zweiundachtzig at" is mueller82@)."""
    first = end
    if first < 0 or not _EMAIL_PART.fullmatch(core(words[first]) or "-"):
        return None
    number = first in numbers
    if number:
        first, local = numbers[first][0], numbers[first][1].replace(" ", "")
    else:
        first, local = _spelled(words, first)
    before = core(words[first - 1]) if first >= 1 else ""
    if (
        before
        and _joiner_before(words, first) is None
        and (
            (number and before.isalpha())  # the name before a number
            or (words[first - 1].strip()[:1].isupper() and before.isalpha())  # "Peter Jones at outlook.com"
            or (_EMAIL_PART.fullmatch(before) and _INNER_DOT.search(before))  # "lucia.fernan des. arroba"
        )
    ):
        first, name = _spelled(words, first - 1)
        local = f"{name}{local}"
    while (joiner := _joiner_before(words, first)) is not None:
        taken, character = joiner
        first, part = _spelled(words, first - taken - 1)
        local = f"{part}{character}{local}"
    return first, local


def _local_end(words: list[str], at: int) -> int | None:
    """Where the address's first part ends when ``words[at]`` says "at" (or, in a word "robadomain.com"
    Whisper ran together, begins with it): the word before, or the one before "a roba"; None when it
    says none."""
    word = core(words[at])
    glued = _GLUED_AT.fullmatch(word)
    said = glued["at"] if glued else word
    if said == _SPLIT_AT[1]:
        return at - 2 if at >= 1 and core(words[at - 1]) == _SPLIT_AT[0] else None
    return at - 1 if said in _AT or glued else None


def _email_at(
    words: list[str], at: int, end: int, numbers: dict[int, tuple[int, str]], dots: set[str]
) -> tuple[int, int, str] | None:
    """The spoken e-mail around the word ``at`` ("john dot smith at example dot com"), whose first part
    ends with ``words[end]``, if there is one, its domain said with ``dots``."""
    part = _local_part(words, end, numbers)
    if part is None:
        return None
    first, local = part
    last = at + 1
    if last >= len(words) or not _EMAIL_PART.fullmatch(core(words[last]) or "-"):
        return None
    domain = core(words[last])
    while last + 1 < len(words):
        following = core(words[last + 1])
        after = core(words[last + 2]) if last + 2 < len(words) else ""
        if following in dots and after:
            domain, last = f"{domain}.{after}", last + 2
        elif _EMAIL_JOINERS.get(following) == "-" and after:
            domain, last = f"{domain}-{after}", last + 2  # "mueller minus bau punkt de"
        elif "." not in domain and after in dots and following.isalnum():
            domain, last = f"{domain}{following}", last + 1  # a name in two words: "la poste point net"
        elif len(domain.rsplit(".", 1)[-1]) == 1 and len(following) == 1 and following.isalpha():
            domain, last = f"{domain}{following}", last + 1  # spelled out: "point f r"
        else:
            break
    if "." not in domain:
        return None
    return first, last, f"{local}@{domain}"


def _claim(replaced: dict[int, tuple[int, str]], first: int, last: int, text: str) -> None:
    """Words ``first``..``last`` written as ``text``, in place of the numbers among them; not where a
    number reaches past them."""
    if any(start < first <= end or start <= last < end for start, (end, _) in replaced.items()):
        return
    for start in [start for start in replaced if first <= start <= last]:
        del replaced[start]
    replaced[first] = (last, text)


def write_emails(texts: list[str], replaced: dict[int, tuple[int, str]], language: str) -> None:
    """Adds to ``replaced`` (first token -> last token and text, the numbers already written) the spoken
    addresses among ``texts``, said in ``language``."""
    said = {last: (first, digits) for first, (last, digits) in replaced.items()}  # numbers, by last token
    dots = _DOT - _NOT_A_DOT_IN.get(language, set())
    for index, text in enumerate(texts):
        end = _local_end(texts, index) if not _GLUED_AT.fullmatch(core(text)) else None
        if end is not None and not any(first <= index <= last for first, (last, _) in replaced.items()):
            email = _email_at(texts, index, end, said, dots)
            if email is not None:
                _claim(replaced, *email)
    for index, text in enumerate(texts):
        glued = _GLUED_EMAIL.fullmatch(core(text))
        if glued and index not in replaced and "@" not in text:
            replaced[index] = (index, f"{glued['local'].replace('dot', '.')}@{glued['domain']}")
        hyphenated = _HYPHENATED_EMAIL.fullmatch(core(text))
        if hyphenated and not glued and index not in replaced and "@" not in text:
            replaced[index] = (index, f"{hyphenated['local']}@{hyphenated['domain']}")
        glued_at = _GLUED_AT.fullmatch(core(text))
        end = _local_end(texts, index) if glued_at else None
        part = _local_part(texts, end, said) if end is not None else None
        if glued_at and part is not None:
            _claim(replaced, part[0], index, f"{part[1]}@{glued_at['domain']}")
