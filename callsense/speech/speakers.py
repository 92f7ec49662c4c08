"""From words to speakers: by channel on stereo calls, by voice on mono ones, and the agent among them.

``SpeakerMap`` is the decision, made once from the transcription and reused for the Whisper translation of
the same call, so both label the same person the same way. On stereo the configured agent channel stands
unless call metadata names another (that always wins: the conversation can only warn against it) or, with
``speakers.swap_check``, the conversation clearly says otherwise (``roles.guess_agent``). On mono the
diarized voices get their role from the same conversation check; without telling phrases the first voice
to say a word is the agent; metadata's ``agent_speaks`` (first or second) always wins there too. A mono
call's agent may be more than one voice (a transfer to a second agent): the record names them all
("speaker 1, speaker 3")."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import NamedTuple

from callsense.calls.schemas import RoleSource, Speaker, SpeakerMethod, SpeakersFound
from callsense.config.models import AgentSpeaks, Channel, SpeakerSettings, SwapCheck
from callsense.speech import roles
from callsense.speech.diarization import Diarization
from callsense.speech.turns import SpokenWord

WordT = tuple[float, float, str]  # start, end, text


class GivenAgent(NamedTuple):
    """What a call's metadata says of its agent: the stereo channel, and the place among mono voices."""

    channel: Channel | None = None
    speaks: AgentSpeaks | None = None


@dataclass(frozen=True)
class SpeakerMap:
    found: SpeakersFound
    channel_roles: tuple[Speaker, ...] = ()  # stereo: the role of each channel
    diarization: Diarization | None = None  # mono: who spoke when
    voice_roles: tuple[Speaker, ...] = ()  # mono: the role of each diarized voice

    def labelled(self, word: SpokenWord, channel: int) -> SpokenWord:
        """``word`` (heard on ``channel``) with its speaker's role and voice: the diarized voice on mono calls
        (-1 where nothing was embedded), else the channel."""
        if self.diarization is not None:
            voice = self.diarization.speaker_at(word.start, word.end)
            if voice is None:
                return replace(word, speaker=Speaker.unknown, voice=-1)
            return replace(word, speaker=self.voice_roles[voice], voice=voice)
        role = self.channel_roles[channel] if self.channel_roles else Speaker.unknown
        return replace(word, speaker=role, voice=channel)


MONO_UNDIARIZED = SpeakerMap(found=SpeakersFound(method=SpeakerMethod.none, count=1))


def _channel_name(index: int) -> str:
    return "left" if index == 0 else "right"


def by_channels(
    texts: tuple[str, str], *, configured_agent: int, override: int | None, settings: SpeakerSettings
) -> SpeakerMap:
    """Stereo: the agent's channel from metadata, else the setting, checked against the conversation. Metadata
    always wins: there the check only warns, so that a recording source set up the wrong way round shows."""
    agent, source, confidence, swapped, suggested = configured_agent, RoleSource.settings, 0.0, False, False
    if override is not None:
        agent, source = override, RoleSource.metadata
    if settings.swap_check is not SwapCheck.off:
        guess = roles.guess_agent(list(texts))
        confidence = guess.confidence
        # A tie (confidence 0) leans nowhere, whatever swap_confidence allows: ties go to the left channel.
        leans = guess.confidence > 0 and guess.confidence >= settings.swap_confidence
        if guess.agent != agent and leans:
            suggested = True
            if settings.swap_check is SwapCheck.swap and override is None:
                agent, source, swapped = guess.agent, RoleSource.conversation, True
    channel_roles = tuple(Speaker.agent if index == agent else Speaker.customer for index in range(2))
    return SpeakerMap(
        found=SpeakersFound(
            method=SpeakerMethod.channels,
            count=sum(1 for text in texts if text.strip()),  # a one-sided call (voicemail) has one speaker
            agent=_channel_name(agent),
            agent_source=source,
            role_confidence=confidence,
            swapped=swapped,
            swap_suggested=suggested and not swapped,
        ),
        channel_roles=channel_roles,
    )


def by_voices(
    diarization: Diarization, words: list[WordT], *, agent_speaks: AgentSpeaks | None = None
) -> SpeakerMap:
    """Mono: each diarized voice's role from what it says; one voice is the agent, and with three voices or
    more (a transfer, a supervisor) so is every other voice that talks like one; the rest are customers.
    ``agent_speaks`` (metadata) names the agent among the first two voices to say a word instead: the words
    then only warn (``swap_suggested``), and a later voice is still an agent when it talks like one."""
    texts = ["" for _ in range(diarization.count)]
    first_word = [math.inf] * diarization.count
    for start, end, text in words:
        voice = diarization.speaker_at(start, end)
        if voice is not None:
            texts[voice] += text
            first_word[voice] = min(first_word[voice], start)
    # Ties go to the voice that spoke first, not the one heard first: a voice without words (music or a
    # noise the VAD passed before anyone spoke) was the agent of a call whose words tell nothing, and with
    # three voices both people were then customers.
    by_first_word = sorted(range(diarization.count), key=lambda voice: (first_word[voice], voice))
    guess = roles.guess_agents([texts[voice] for voice in by_first_word])
    agent_ranks, source, suggested = set(guess.agents), RoleSource.conversation, False
    if agent_speaks is not None:
        named = {agent_speaks.rank} & set(range(diarization.count))  # none: one voice, said to be second
        suggested = guess.confidence > 0 and {rank for rank in guess.agents if rank < 2} != named
        agent_ranks = named | {rank for rank in guess.agents if rank >= 2}
        source = RoleSource.metadata
    # A call with no voice (no speech) has no rank: the guess's agent of no texts is nobody.
    agent_voices = {by_first_word[rank] for rank in agent_ranks if rank < len(by_first_word)}
    voice_roles = tuple(
        Speaker.agent if voice in agent_voices else Speaker.customer for voice in range(diarization.count)
    )
    agents = [f"speaker {voice + 1}" for voice, role in enumerate(voice_roles) if role is Speaker.agent]
    return SpeakerMap(
        found=SpeakersFound(
            method=SpeakerMethod.diarization,
            count=diarization.count,
            confidence=diarization.confidence,
            agent=", ".join(agents) or None,
            agent_source=source,
            role_confidence=guess.confidence,
            swap_suggested=suggested,
        ),
        diarization=diarization,
        voice_roles=voice_roles,
    )
