"""Read-out numbers through Whisper: how many digits survive transcription (cards, phones, PINs).

    python -m bench.digits [--model base]
    # before/after a change to callsense/speech, in one run (a worktree of the old tree at /tmp/before):
    for tree in /tmp/before $PWD; do (cd $tree && PYTHONPATH=$tree python $OLDPWD/bench/digits.py); done

Each utterance is spoken by the Piper voice the fixtures use (``pip install -e '.[fixtures]'``, Debian sox),
band-limited to the telephone band at 8 kHz, and transcribed by callsense's own transcriber (mono path,
repetition guard included). Digits are read back from the transcript (digit characters, and number words such
as "one", "oh", "double four"), and compared with the digits spoken. Prints one row per utterance, then the
exact-match rate and the digit error rate (edits over spoken digits).
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import jiwer
from rich.console import Console
from rich.table import Table

import callsense
from callsense.config import Settings
from callsense.config.models import ASRSettings
from callsense.speech.audio import decode
from callsense.speech.whisper import WhisperTranscriber
from tools.make_fixtures import PIPER_AGENT, Synthesizer, write_flac

# (what the caller says, the digits in it) — grouped, repeated and run-together digits, as people read them.
UTTERANCES = [
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
_WORD_DIGITS = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4", "for": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "to": "2", "too": "2",
}  # fmt: skip
_REPEAT = {"double": 2, "triple": 3}


def spoken_digits(text: str) -> str:
    """The digits a transcript says: digit characters, number words, and "double"/"triple" before one."""
    digits: list[str] = []
    repeat = 1
    for token in re.findall(r"[a-z]+|\d", text.lower()):
        if token in _REPEAT:
            repeat = _REPEAT[token]
            continue
        digit = token if token.isdigit() else _WORD_DIGITS.get(token)
        if digit is not None:
            digits.append(digit * repeat)
        repeat = 1
    return "".join(digits)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="base")
    args = parser.parse_args()
    settings = Settings()
    transcriber = WhisperTranscriber(ASRSettings(model=args.model), model_dir=settings.resolved_model_dir)
    synth = Synthesizer()
    table = Table(
        title=f"read-out digits through whisper-{args.model}, callsense from {callsense.__path__[0]}"
    )
    for column in ("spoken", "transcript", "digits heard", "exact"):
        table.add_column(column)
    exact = 0
    references, hypotheses = [], []
    started = time.perf_counter()
    for said, digits in UTTERANCES:
        synth.reset()  # Piper samples noise: the same seed for each utterance, whatever ran before
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "utterance.flac"
            write_flac(path, synth.speak(said, PIPER_AGENT).reshape(-1, 1))
            audio = decode(path.read_bytes(), max_seconds=60)
        transcript = transcriber.transcribe(audio, language="en").text
        heard = spoken_digits(transcript)
        exact += heard == digits
        references.append(" ".join(digits))
        hypotheses.append(" ".join(heard) or "-")
        table.add_row(digits, transcript, heard, "yes" if heard == digits else "NO")
    console = Console()
    console.print(table)
    error_rate = jiwer.wer(references, hypotheses)
    console.print(
        f"exact {exact}/{len(UTTERANCES)}   digit error rate {error_rate:.3f}   "
        f"({time.perf_counter() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
