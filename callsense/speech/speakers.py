"""From words to speakers: by channel on stereo calls, by voice on mono ones, and the agent among them.

``SpeakerMap`` is the decision, made once from the transcription and reused for the Whisper translation of
the same call, so both label the same person the same way. On stereo the configured agent channel stands
unless call metadata names another (that always wins) or, with ``speakers.swap_check``, the conversation
clearly says otherwise (``roles.guess_agent``). On mono the diarized voices get their role from the same
conversation check; without telling phrases the first voice heard is the agent.
"""

from __future__ import annotations

from dataclasses import dataclass

from callsense.calls.schemas import RoleSource, Speaker, SpeakerMethod, SpeakersFound
from callsense.config.models import SpeakerSettings, SwapCheck
from callsense.speech import roles
from callsense.speech.diarization import Diarization

WordT = tuple[float, float, str]  # start, end, text


@dataclass(frozen=True)
class SpeakerMap:
    found: SpeakersFound
    channel_roles: tuple[Speaker, ...] = ()  # stereo: the role of each channel
    diarization: Diarization | None = None  # mono: who spoke when
    voice_roles: tuple[Speaker, ...] = ()  # mono: the role of each diarized voice

    def speaker(self, start: float, end: float, channel: int) -> Speaker:
        if self.diarization is not None:
            voice = self.diarization.speaker_at(start, end)
            return Speaker.unknown if voice is None else self.voice_roles[voice]
        if self.channel_roles:
            return self.channel_roles[channel]
        return Speaker.unknown


MONO_UNDIARIZED = SpeakerMap(found=SpeakersFound(method=SpeakerMethod.none, count=1))


def _channel_name(index: int) -> str:
    return "left" if index == 0 else "right"


def by_channels(
    texts: tuple[str, str], *, configured_agent: int, override: int | None, settings: SpeakerSettings
) -> SpeakerMap:
    """Stereo: the agent's channel from metadata, else the setting, checked against the conversation."""
    agent, source, confidence, swapped, suggested = configured_agent, RoleSource.settings, 0.0, False, False
    if override is not None:
        agent, source = override, RoleSource.metadata
    elif settings.swap_check is not SwapCheck.off:
        guess = roles.guess_agent(list(texts))
        confidence = guess.confidence
        if guess.agent != configured_agent and guess.confidence >= settings.swap_confidence:
            suggested = True
            if settings.swap_check is SwapCheck.swap:
                agent, source, swapped = guess.agent, RoleSource.conversation, True
    channel_roles = tuple(Speaker.agent if index == agent else Speaker.customer for index in range(2))
    return SpeakerMap(
        found=SpeakersFound(
            method=SpeakerMethod.channels,
            count=2,
            agent=_channel_name(agent),
            agent_source=source,
            role_confidence=confidence,
            swapped=swapped,
            swap_suggested=suggested and not swapped,
        ),
        channel_roles=channel_roles,
    )


def by_voices(diarization: Diarization, words: list[WordT]) -> SpeakerMap:
    """Mono: each diarized voice's role from what it says; the agent is one voice, the others customers."""
    texts = ["" for _ in range(diarization.count)]
    for start, end, text in words:
        voice = diarization.speaker_at(start, end)
        if voice is not None:
            texts[voice] += text
    guess = roles.guess_agent(texts)
    voice_roles = tuple(
        Speaker.agent if voice == guess.agent else Speaker.customer for voice in range(diarization.count)
    )
    if diarization.count == 1 and roles.agent_score(texts[0]) < 0:
        voice_roles = (Speaker.customer,)  # one voice asking for help: a customer's message
    return SpeakerMap(
        found=SpeakersFound(
            method=SpeakerMethod.diarization,
            count=diarization.count,
            confidence=diarization.confidence,
            agent=f"speaker {guess.agent + 1}" if Speaker.agent in voice_roles else None,
            agent_source=RoleSource.conversation,
            role_confidence=guess.confidence,
        ),
        diarization=diarization,
        voice_roles=voice_roles,
    )
