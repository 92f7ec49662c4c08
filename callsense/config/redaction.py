"""Settings of PII redaction (docs/redaction.md): which entity types are redacted, and how in the audio."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator


class EntityType(StrEnum):
    """The entity types the redactor knows; each appears in a redacted text as ``[NAME]``."""

    card_number = "CARD_NUMBER"
    card_expiry = "CARD_EXPIRY"
    security_code = "SECURITY_CODE"
    bank_account = "BANK_ACCOUNT"
    national_id = "NATIONAL_ID"
    phone_number = "PHONE_NUMBER"
    email = "EMAIL"
    date_of_birth = "DATE_OF_BIRTH"
    address = "ADDRESS"
    name = "NAME"


# Where a phone number said without its country code is read as local: the countries of the four languages
# with every recognizer, and their neighbours.
DEFAULT_PHONE_REGIONS = ("US", "CA", "GB", "IE", "ES", "MX", "DE", "AT", "CH", "FR", "BE", "IT", "NL", "PT",
                         "AU")  # fmt: skip


class RedactionSettings(BaseModel):
    """What the redactor takes out of a call's transcript, analysis, audio, search index and CRM payloads."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(
        default=True,
        description="Redact personal data. On by default: PCI DSS forbids keeping card numbers and security "
        "codes in recordings and transcripts once a call is processed.",
    )
    entities: list[EntityType] = Field(
        default_factory=lambda: list(EntityType),
        description="The entity types redacted (default: all): CARD_NUMBER (Luhn-checked), CARD_EXPIRY, "
        "SECURITY_CODE (CVV and PIN, by context), BANK_ACCOUNT (IBAN, checksum), NATIONAL_ID (US SSN, "
        "British NINO and NHS number, Spanish DNI/NIE, French NIR, German tax id), PHONE_NUMBER, EMAIL, "
        "DATE_OF_BIRTH (by context), ADDRESS, NAME.",
    )
    custom_patterns: dict[str, str] = Field(
        default_factory=dict,
        description="Extra entity types: name -> regular expression (Python syntax) matched on the "
        "transcript with spoken digits written as digits, e.g. {POLICY_NUMBER = 'POL-?\\\\d{8}'}. A pattern "
        "that does not compile stops the start with its name.",
    )
    phone_regions: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PHONE_REGIONS),
        min_length=1,
        description="The countries (ISO 3166 codes, as libphonenumber knows them) whose phone numbers are "
        "redacted when said without the country code; a number said with it (+86 …) is redacted whatever "
        "this lists. The default is North America, western Europe and Australia: a contact center elsewhere "
        "lists its own, e.g. ['CN', 'HK', 'TW', 'SG'] (a Chinese mobile, 138 1234 5678, is no valid number "
        "of the default countries). Each country is one more pass over each turn.",
    )
    ner_models: bool = Field(
        default=True,
        description="Find names also with spaCy's small NER models (English and French, where their wheels "
        "are installed), not only after a cue like 'my name is'. Off: faster to load, fewer names found "
        "(docs/benchmarks.md, Redaction).",
    )
    score_threshold: float = Field(
        default=0.4,
        ge=0,
        le=1,
        description="Lowest detection score that is redacted (Presidio's scores: a Luhn-valid card is 1.0, a "
        "3-digit number after 'security code' 0.45, a misheard card after 'card' 0.65). Lower redacts more.",
    )
    number_beam_size: int = Field(
        default=5,
        ge=1,
        le=10,
        description="Whisper decodes each segment whose first pass holds a read-out number (4 digits or "
        "more) again with this beam, so that the digits survive for redaction (greedy decoding loses and "
        "changes some; docs/redaction.md). 1, or not above asr.beam_size: no second pass.",
    )
    audio: Literal["tone", "silence"] = Field(
        default="tone",
        description="What replaces a redacted word span in the redacted copy of the recording.",
    )
    audio_margin_s: float = Field(
        default=0.15,
        ge=0,
        le=2,
        description="Seconds added before and after each redacted span in the audio, so that Whisper's word "
        "timings, which can be off by a syllable, do not leave a digit audible.",
    )
    keep_original_audio: bool | None = Field(
        default=None,
        description="Keep the unredacted recording beside the redacted copy (readable with the 'view "
        "sensitive data' permission). Unset: kept only when redaction is off.",
    )

    @field_validator("custom_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: dict[str, str]) -> dict[str, str]:
        for name, pattern in patterns.items():
            if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
                raise ValueError(f"custom pattern name {name!r} must be upper case letters, digits and _")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"custom pattern {name} does not compile: {exc}") from exc
        return patterns

    @field_validator("phone_regions")
    @classmethod
    def _regions_known(cls, regions: list[str]) -> list[str]:
        unknown = [region for region in regions if region not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(
                f"unknown phone region(s) {', '.join(unknown)}: two-letter country codes, upper case"
            )
        return regions

    @property
    def keeps_original_audio(self) -> bool:
        return (not self.enabled) if self.keep_original_audio is None else self.keep_original_audio
