"""Who is the agent, from the words: cue phrases per language, the stereo swap check and the override."""

from __future__ import annotations

import numpy as np
import pytest

from callsense.calls.schemas import RoleSource, Speaker, SpeakerMethod
from callsense.config.models import SpeakerSettings, SwapCheck
from callsense.speech import speakers
from callsense.speech.diarization import Diarization
from callsense.speech.roles import agent_score, guess_agent

CALLS = {
    "en": (
        "Thank you for calling, this is David. How can I help you today? Can I have your account number?",
        "Hi, I was charged twice for my phone bill. I want to cancel my contract.",
    ),
    "es": (
        "Buenos días, gracias por llamar. ¿En qué puedo ayudarle? ¿Su nombre, por favor?",
        "Hola. Quiero cancelar mi contrato de internet, no funciona.",
    ),
    "de": (
        "Guten Tag, hier ist der Kundenservice. Wie kann ich Ihnen helfen? Das tut mir leid.",
        "Guten Tag. Meine Stromrechnung ist viel zu hoch. Vielen Dank für Ihre Hilfe.",
    ),
    "fr": (
        "Bonjour, ici le service client. Je vous écoute. Je suis vraiment désolé. Quel est votre nom?",
        "Bonjour. Je n\u2019ai pas reçu mon colis. Et quand est-ce que je vais le recevoir?",
    ),
}


@pytest.mark.parametrize("language", sorted(CALLS))
def test_the_agent_sounds_like_one_in_every_language(language: str) -> None:
    agent, customer = CALLS[language]
    assert agent_score(agent) >= 2 and agent_score(customer) <= -1
    guess = guess_agent([customer, agent])
    assert guess.agent == 1 and guess.confidence > 0.8


def test_without_telling_phrases_the_first_speaker_is_chosen_with_no_confidence() -> None:
    guess = guess_agent(["The weather is nice.", "Yes, it is."])
    assert guess.agent == 0 and guess.confidence == 0.0
    assert guess_agent([]).agent == 0


def stereo(check: SwapCheck, *, override: int | None = None, agent_right: bool = True) -> speakers.SpeakerMap:
    agent, customer = CALLS["en"]
    texts = (customer, agent) if agent_right else (agent, customer)
    settings = SpeakerSettings(swap_check=check, swap_confidence=0.8)
    return speakers.by_channels(texts, configured_agent=0, override=override, settings=settings)


def test_a_swapped_stereo_call_is_only_reported_with_warn() -> None:
    found = stereo(SwapCheck.warn).found
    assert found.agent == "left" and found.swap_suggested and not found.swapped
    assert found.agent_source is RoleSource.settings and found.role_confidence > 0.8
    assert stereo(SwapCheck.warn).channel_roles == (Speaker.agent, Speaker.customer)


def test_a_swapped_stereo_call_is_relabelled_with_swap() -> None:
    swapped = stereo(SwapCheck.swap)
    assert swapped.found.swapped and swapped.found.agent == "right" and not swapped.found.swap_suggested
    assert swapped.found.agent_source is RoleSource.conversation
    assert swapped.channel_roles == (Speaker.customer, Speaker.agent)
    assert swapped.speaker(0.0, 1.0, channel=1) is Speaker.agent


def test_a_call_on_the_configured_side_is_left_alone() -> None:
    found = stereo(SwapCheck.swap, agent_right=False).found
    assert not found.swapped and not found.swap_suggested and found.agent == "left"


def test_checks_off_keep_the_setting() -> None:
    found = stereo(SwapCheck.off).found
    assert found.agent == "left" and not found.swap_suggested and found.role_confidence == 0.0


def test_metadata_always_wins() -> None:
    kept = stereo(SwapCheck.swap, override=0)
    assert kept.found.agent == "left" and kept.found.agent_source is RoleSource.metadata
    assert not kept.found.swapped and kept.channel_roles[0] is Speaker.agent


def test_diarized_voices_get_roles_from_their_words() -> None:
    voices = Diarization(
        starts=np.array([0.0, 2.0]),
        scores=np.array([[0.9, 0.1], [0.1, 0.9]], dtype=np.float32),
        count=2,
        confidence=0.7,
    )
    agent, customer = CALLS["en"]
    mapped = speakers.by_voices(voices, [(0.1, 1.0, customer), (2.2, 3.0, agent)])
    assert mapped.voice_roles == (Speaker.customer, Speaker.agent)
    assert mapped.found.method is SpeakerMethod.diarization and mapped.found.agent == "speaker 2"
    assert mapped.found.count == 2 and mapped.found.confidence == 0.7
    assert mapped.speaker(2.5, 2.7, channel=0) is Speaker.agent


def test_a_single_voice_asking_for_help_is_a_customer() -> None:
    one = Diarization(
        starts=np.array([0.0]),
        scores=np.ones((1, 1), np.float32),
        count=1,
        confidence=0.9,
    )
    mapped = speakers.by_voices(one, [(0.0, 1.0, "Hi, I am calling about my bill.")])
    assert mapped.voice_roles == (Speaker.customer,) and mapped.found.agent is None
