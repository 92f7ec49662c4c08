"""Text as search, category phrases and quote checking compare it, in any of Whisper's languages.

- ``fold``: case folded, compatibility forms unified (half-width katakana, full-width Latin, Arabic
  presentation forms), and the marks that writers leave out dropped: Latin, Greek and Cyrillic accents
  ("perché" is "perche"), Arabic harakat, tatweel and the hamza carried by alef ("أُرِيدُ" is "اريد"), Hebrew
  niqqud and cantillation, the Devanagari nukta ("फ़ोन" is "फोन"); Arabic ta marbuta is ha and alef maqsura
  ya ("مدرسة" is "مدرسه"); the Turkish dotless i (U+0131) is i, as the dotted capital and I are; the digits
  of every script are ASCII digits ("٤", "४", a full-width 4 are "4"). Marks that make another letter are
  kept: Russian й ("мой" is not "мои"), Japanese kana voicing ("が" is not "か"), Devanagari virama and vowel
  signs, Thai tone marks. Traditional Chinese characters are folded to their Simplified forms (OpenCC's
  character table), since Whisper writes Mandarin in either from one call to the next ("發票" is "发票");
  Japanese kanji fold the same way on both sides of a comparison.
- ``words``: the folded words of a text, an Arabic word without the article joined to it ("الفاتورة", the
  invoice, is "فاتوره"). Chinese, Japanese (kanji and kana), Thai, Lao, Khmer and Myanmar are
  written without spaces between words and there are no boundaries to find without a dictionary, so each of
  their characters is a unit of its own: "返金をお願い" gives "返", "金", "を", "お", "願", "い". So is each
  Korean syllable (``BY_CHARACTER``): Korean joins a word's particles and endings to it.
"""

from __future__ import annotations

import functools
import itertools
import unicodedata

import opencc
import regex

_UNSPACED_SCRIPTS = (
    r"\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Thai}\p{scx=Lao}\p{scx=Khmer}\p{scx=Myanmar}"
)
# Letters of the scripts written without spaces (with the signs they share: "ー", "々"; not "。").
UNSPACED = rf"(?=\p{{L}})[{_UNSPACED_SCRIPTS}]"
# Letters compared one at a time: those of the unspaced scripts, and Korean's. Korean is written with spaces,
# but between phrases, each a word with its particles and endings joined to it ("환불을", refund and the
# object particle; "해지할게요", cancel and "I will"): a word is rarely a whole spaced unit, and its
# syllables are what is compared, as Lucene's CJK analyzer does.
BY_CHARACTER = rf"(?=\p{{L}})[{_UNSPACED_SCRIPTS}\p{{scx=Hangul}}]"
_UNIT = regex.compile(rf"(?:{BY_CHARACTER}\p{{M}}*)|(?:(?!{BY_CHARACTER})\w)+")
_UNSPACED_CHAR = regex.compile(UNSPACED)
_BY_CHARACTER_CHAR = regex.compile(BY_CHARACTER)
_DROPPED_MARKS = regex.compile(
    "(?<![\u0418\u0438\u0423\u0443])\u0306|"  # a breve, but for Cyrillic й and ў: letters of their own
    "[\u0300-\u0305\u0307-\u036f"  # combining accents (Latin, Greek, Cyrillic once decomposed)
    "\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7"  # Hebrew points, cantillation (not maqaf, sof pasuq)
    "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e4\u06e7\u06e8\u06ea-\u06ed"  # Arabic marks
    "\u093c"  # the Devanagari nukta, left out as often as written ("फ़ोन", phone, and "फोन")
    "\u0640]"  # Arabic tatweel, a stretch of the line
)


# Arabic letters written one for the other (ta marbuta as ha, alef maqsura as ya), folded as Lucene's
# Arabic normaliser does; the Turkish dotless i, whose capital is I (which folds to i): without it a word
# capitalised at the start of a sentence and the same word inside one would be two words.
_LETTER_VARIANTS = {0x0629: "\u0647", 0x0649: "\u064a", 0x0131: "i"}
_NON_ASCII_DIGIT = regex.compile(r"[^\P{Nd}0-9]")
# The Arabic definite article, joined to its noun, alone ("ال") or after "and", "so", "with", "as" (و ف ب ك)
# or "for" ("لل"): read off where two letters or more remain, as Lucene's Arabic stemmer does, so that
# "الفاتورة" (the invoice) and "بالفاتورة" (with the invoice) are "فاتورة" (an invoice) with an article.
_ARABIC_ARTICLE = regex.compile(
    r"(?<!\w)(?:[\u0648\u0641\u0628\u0643]?\u0627\u0644|\u0644\u0644)(?=\p{Arabic}{2})"
)


@functools.cache
def _variants() -> dict[int, str]:
    """Arabic and Turkish letter variants and Traditional Chinese characters, each to the form text is
    compared in."""
    simplified = opencc.OpenCC("t2s.json")
    table = dict(_LETTER_VARIANTS)
    for code in itertools.chain(range(0x3400, 0x4DC0), range(0x4E00, 0xA000)):  # CJK ideographs, Ext. A
        # One character at a time: the character table only, never a phrase's reading, so that a text and
        # each of its characters fold alike (quotes are matched a character at a time).
        folded = simplified.convert(chr(code))
        if len(folded) == 1 and folded != chr(code):
            table[code] = folded
    return table


def fold(text: str) -> str:
    """Lower case without the marks spelling may leave out (see the module's docstring)."""
    if text.isascii():  # most words: nothing to decompose
        return text.lower()
    bare = _DROPPED_MARKS.sub("", unicodedata.normalize("NFKD", text))
    return ascii_digits(unicodedata.normalize("NFC", str(bare)).casefold().translate(_variants()))


def ascii_digits(text: str) -> str:
    """``text`` with the digits of other scripts as ASCII digits: Whisper writes a number said in Arabic,
    Persian, Hindi or Thai now in ASCII digits, now in the script's own ("٤١١١", "۴۱۱۱", "४१११", "๔๑๑๑")."""
    if text.isascii():
        return text
    return str(_NON_ASCII_DIGIT.sub(lambda digit: str(unicodedata.decimal(digit[0])), text))


def words(text: str) -> list[str]:
    """The folded words of ``text``, one unit per character in scripts written without spaces and in
    Korean, Arabic words without their article."""
    return list(_UNIT.findall(without_article(fold(text))))


def without_article(folded: str) -> str:
    """Folded text with the Arabic definite article read off each word that has it."""
    return str(_ARABIC_ARTICLE.sub("", folded))


def by_character(char: str) -> bool:
    """Whether ``char`` is compared on its own (``BY_CHARACTER``): a letter of an unspaced script, or
    Korean."""
    return _BY_CHARACTER_CHAR.fullmatch(char) is not None


def unspaced(char: str) -> bool:
    """Whether ``char`` belongs to a script written without spaces between words."""
    return _UNSPACED_CHAR.fullmatch(char) is not None
