"""Read-out numbers through Whisper: how many digits survive transcription (cards, phones, PINs).

    python -m bench.digits [--model base] [--language en|es|de]
    # before/after a change to callsense/speech, in one run (a worktree of the old tree at /tmp/before):
    for tree in /tmp/before $PWD; do (cd $tree && PYTHONPATH=$tree python $OLDPWD/bench/digits.py); done

English utterances are spoken by the Piper voice the fixtures use (``pip install -e '.[fixtures]'``,
Debian sox), band-limited to the telephone band at 8 kHz; Spanish and German ones by the espeak-ng voices
whisper-base hears best (docs/benchmarks.md), at 16 kHz without the telephone band, since at 8 kHz it hears
almost none of their digits. Each is transcribed by callsense's own transcriber (mono path, repetition
guard included) with the language given. Digits are read back from the transcript (digit characters, and
number words such as "one", "uno", "eins", "oh", "double four"), and compared with the digits spoken.
Prints one row per utterance, then the exact-match rate, the digit error rate (edits over spoken digits)
and how many utterances came out empty (dropped as a loop, or not heard).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
import time
from pathlib import Path

import jiwer
from rich.console import Console
from rich.table import Table

import callsense
from bench.tts import Speaker
from callsense.config import Settings
from callsense.config.models import ASRSettings
from callsense.speech.audio import DecodedAudio, decode
from callsense.speech.whisper import WhisperTranscriber

# (what the caller says, the digits in it) — grouped, repeated and run-together digits, as people read them.
ENGLISH = [
    ("My card number is four one one one, one one one one, one one one one, one one one one.",
     "4111111111111111"),
    ("The card is five four five four, five four five four, five four five four, five four five four.",
     "5454545454545454"),
    ("It's four zero zero zero, zero zero zero zero, zero zero zero zero, zero zero zero two.",
     "4000000000000002"),
    ("My PIN is one one one one.", "1111"),
    ("The security code is seven seven seven.", "777"),
    ("You can call me back on five five five, one two three, four five six seven.", "5551234567"),
    ("My account number is two two two two, three three three three.", "22223333"),
    ("The reference is nine nine nine, nine nine nine.", "999999"),
    ("Zip code zero two one three nine.", "02139"),
    ("My phone is zero seven seven zero zero, nine double zero, one one one.", "07700900111"),
]  # fmt: skip
SPANISH = [
    ("Mi tarjeta es cuatro uno uno uno, uno uno uno uno, uno uno uno uno, uno uno uno uno.",
     "4111111111111111"),
    ("Es cinco cinco cinco cinco, cinco cinco cinco cinco, cinco cinco cinco cinco, cuatro cuatro cuatro "
     "cuatro.", "5555555555554444"),
    ("La tarjeta es cuatro cero uno dos, ocho ocho ocho ocho, ocho ocho ocho ocho, uno ocho ocho uno.",
     "4012888888881881"),
    ("Mi PIN es uno uno uno uno.", "1111"),
    ("Mi móvil es seis uno dos, tres cuatro cinco, seis siete ocho.", "612345678"),
    ("La referencia es nueve nueve nueve, nueve nueve nueve.", "999999"),
]  # fmt: skip
GERMAN = [
    ("Meine Karte ist vier eins eins eins, eins eins eins eins, eins eins eins eins, eins eins eins eins.",
     "4111111111111111"),
    ("Das ist fünf fünf fünf fünf, fünf fünf fünf fünf, fünf fünf fünf fünf, vier vier vier vier.",
     "5555555555554444"),
    ("Die Karte ist vier null eins zwei, acht acht acht acht, acht acht acht acht, eins acht acht eins.",
     "4012888888881881"),
    ("Meine PIN ist eins eins eins eins.", "1111"),
    ("Meine Handynummer ist null eins sieben eins, zwei drei vier, fünf sechs sieben acht.", "01712345678"),
    ("Die Referenz ist neun neun neun, neun neun neun.", "999999"),
]  # fmt: skip
UTTERANCES = {"en": ENGLISH, "es": SPANISH, "de": GERMAN}
# espeak-ng settings under which whisper-base hears these languages' phone numbers (docs/benchmarks.md).
ESPEAK_VOICES = {"es": ["es+f2", "-s", "120", "-g", "5"], "de": ["de+Michel", "-s", "120", "-g", "5"]}
_WORD_DIGITS = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4", "for": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "to": "2", "too": "2",
    "cero": "0", "uno": "1", "dos": "2", "tres": "3", "cuatro": "4", "cinco": "5", "seis": "6", "siete": "7",
    "ocho": "8", "nueve": "9",
    "null": "0", "eins": "1", "zwei": "2", "zwo": "2", "drei": "3", "vier": "4", "fünf": "5", "sechs": "6",
    "sieben": "7", "acht": "8", "neun": "9",
}  # fmt: skip
_REPEAT = {"double": 2, "triple": 3}


def spoken_digits(text: str) -> str:
    """The digits a transcript says: digit characters, number words, and "double"/"triple" before one."""
    digits: list[str] = []
    repeat = 1
    for token in re.findall(r"[^\W\d_]+|\d", text.lower()):
        if token in _REPEAT:
            repeat = _REPEAT[token]
            continue
        digit = token if token.isdigit() else _WORD_DIGITS.get(token)
        if digit is not None:
            digits.append(digit * repeat)
        repeat = 1
    return "".join(digits)


def espeak(text: str, language: str) -> DecodedAudio:
    """``text`` in the language's espeak-ng voice, at espeak-ng's own rate (no telephone band)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "utterance.wav"
        subprocess.run(["espeak-ng", "-v", *ESPEAK_VOICES[language], "-w", str(path), text], check=True)
        return decode(path.read_bytes(), max_seconds=600)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="base")
    parser.add_argument("--language", choices=sorted(UTTERANCES), default="en")
    args = parser.parse_args()
    settings = Settings()
    transcriber = WhisperTranscriber(ASRSettings(model=args.model), model_dir=settings.resolved_model_dir)
    speaker = Speaker() if args.language == "en" else None
    table = Table(
        title=f"read-out digits ({args.language}) through whisper-{args.model}, "
        f"callsense from {callsense.__path__[0]}"
    )
    for column in ("spoken", "transcript", "digits heard", "exact"):
        table.add_column(column)
    exact = empty = 0
    references, hypotheses = [], []
    started = time.perf_counter()
    utterances = UTTERANCES[args.language]
    for said, digits in utterances:
        audio = speaker.say(said) if speaker is not None else espeak(said, args.language)
        transcript = transcriber.transcribe(audio, language=args.language).text
        heard = spoken_digits(transcript)
        exact += heard == digits
        empty += not transcript.strip()
        references.append(" ".join(digits))
        hypotheses.append(" ".join(heard) or "-")
        table.add_row(digits, transcript, heard, "yes" if heard == digits else "NO")
    console = Console()
    console.print(table)
    error_rate = jiwer.wer(references, hypotheses)
    console.print(
        f"exact {exact}/{len(utterances)}   digit error rate {error_rate:.3f}   empty {empty}   "
        f"({time.perf_counter() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
