"""Which speaker is the agent, read from what each one says.

An agent greets with the company or department, offers help, asks for a name or an account to verify,
apologises and reports what they see or did; a customer explains their problem with "my bill", "I want to
cancel", "I did not receive". Each speaker scores one point per agent phrase and loses one per customer
phrase (``role_phrases``: fifteen languages, all tried on every call: they do not collide); the higher score
is the agent. The confidence grows with the gap between the two scores, so a call without telling
phrases yields 0 and callers fall back on the configured channel or the first speaker. A mono call may hold
more voices than two (a transfer to a second agent, a supervisor joining): there every voice that talks like
an agent is one (``guess_agents``).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from callsense.speech import role_phrases

# The score gap at which the confidence reaches 1 - 1/e (about 0.63).
CONFIDENCE_SCALE = 2.0
# With three voices or more, a voice besides the best-scoring one is an agent too when its own words score at
# least this (two agent phrases more than customer ones): the second agent of a transfer greets and reports
# what they see or did as the first one does, while a customer who apologises once stays a customer.
SECOND_AGENT_SCORE = 2


# Marks the folding drops: the accents Latin letters (and Cyrillic "ё", "й") decompose into, the Arabic vowel
# signs and hamza (alef with hamza or madda becomes a bare alef: Whisper writes either), the Devanagari nukta
# ("फ़ोन" and "फोन"). Other marks belong to their words (the Devanagari virama, the Japanese dakuten: dropping
# them would read "क्या" as "कया" and "が" as "か"); Hangul, decomposed into jamo, is composed again.
_FOLDED_MARKS = re.compile("[\u0300-\u036f\u064b-\u065f\u093c]")


def _folded(text: str) -> str:
    """Lower case without accents, typographic apostrophes made plain: "Désolé" -> "desole"."""
    return _unmarked(text.lower().replace("\u2019", "'"))


def _unmarked(text: str) -> str:
    return unicodedata.normalize("NFC", _FOLDED_MARKS.sub("", unicodedata.normalize("NFKD", text)))


# The patterns lose the marks the words do, so each is written in its language's own spelling (and keeps its
# case: "\S" is not "\s").
_AGENT_CUES = [re.compile(_unmarked(pattern)) for pattern in role_phrases.AGENT]
_CUSTOMER_CUES = [re.compile(_unmarked(pattern)) for pattern in role_phrases.CUSTOMER]


def agent_score(text: str) -> int:
    """Agent phrases minus customer phrases found in one speaker's words."""
    folded = _folded(text)
    agent = sum(len(cue.findall(folded)) for cue in _AGENT_CUES)
    customer = sum(len(cue.findall(folded)) for cue in _CUSTOMER_CUES)
    return agent - customer


@dataclass(frozen=True)
class RoleGuess:
    agent: int  # index of the speaker who sounds like the agent
    confidence: float  # 0 when nothing tells them apart


def guess_agent(texts: list[str]) -> RoleGuess:
    """The agent among speakers (by their words); ties go to the earliest index, with confidence 0."""
    if not texts:
        return RoleGuess(agent=0, confidence=0.0)
    return _best([agent_score(text) for text in texts])


def _best(scores: list[int]) -> RoleGuess:
    """The highest of the speakers' scores (ties to the earliest), and how far it leads the next."""
    agent = max(range(len(scores)), key=lambda index: (scores[index], -index))
    others = [score for index, score in enumerate(scores) if index != agent]
    gap = scores[agent] - max(others) if others else max(scores[agent], 0)
    return RoleGuess(agent=agent, confidence=_confidence(gap))


@dataclass(frozen=True)
class AgentsGuess:
    agents: tuple[int, ...]  # indices of the speakers who sound like agents, in index order
    # How clearly the least agent-like of them outscores every other speaker; with one voice and no agent,
    # how clearly it sounds like a customer.
    confidence: float


def guess_agents(texts: list[str]) -> AgentsGuess:
    """The agents among a mono call's voices: the one ``guess_agent`` picks and, with three voices or more,
    every other voice scoring at least SECOND_AGENT_SCORE, except that the lowest-scoring voice is always a
    customer (a call has one). A single voice that talks like a customer (a voicemail) is no agent."""
    scores = [agent_score(text) for text in texts]
    if len(scores) == 1 and scores[0] < 0:
        return AgentsGuess(agents=(), confidence=_confidence(-scores[0]))
    best = _best(scores) if scores else guess_agent(texts)
    if len(scores) < 3:
        return AgentsGuess(agents=(best.agent,), confidence=best.confidence)
    others = [index for index in range(len(scores)) if index != best.agent]
    customer = min(others, key=lambda index: (scores[index], index))
    agents = tuple(
        index
        for index, score in enumerate(scores)
        if index == best.agent or (index != customer and score >= SECOND_AGENT_SCORE)
    )
    gap = min(scores[index] for index in agents) - max(
        score for index, score in enumerate(scores) if index not in agents
    )
    return AgentsGuess(agents=agents, confidence=_confidence(gap))


def _confidence(gap: int) -> float:
    return round(1.0 - math.exp(-gap / CONFIDENCE_SCALE), 3)
