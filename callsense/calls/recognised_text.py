"""Text as a speech recogniser wrote it, made storable: the type of a transcript turn's and word's text."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

# A recogniser may write a NUL (a byte token decoded on its own); PostgreSQL text cannot hold one, so the
# transcript's search index would fail the stage on every retry.
RecognisedText = Annotated[str, AfterValidator(lambda text: text.replace("\x00", ""))]
