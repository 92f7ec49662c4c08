"""Which speaker is the agent, read from what each one says.

An agent greets with the company or department, offers help, asks for a name or an account to verify,
apologises and reports what they see or did; a customer explains their problem with "my bill", "I want to
cancel", "I did not receive". Each speaker scores one point per agent phrase and loses one per customer
phrase (English, Spanish, German, French and Italian phrases are all tried: they do not collide); the higher
score is the agent. The confidence grows with the gap between the two scores, so a call without telling
phrases yields 0 and callers fall back on the configured channel or the first speaker. A mono call may hold
more voices than two (a transfer to a second agent, a supervisor joining): there every voice that talks like
an agent is one (``guess_agents``).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

_AGENT = [
    # English
    r"thanks? (you )?for (calling|contacting|holding|your patience)",
    r"how (can|may|could) i (help|assist)",
    r"what can i (help you with|do for you)",
    r"(?<!how )(?<!what )\b(can|may) i help you",  # not "how/what can I help you": counted above
    r"(could|can|would) you (please )?(tell|give) me your",
    r"your (reservation|booking|order|refund|request|ticket|cancellation) (is|has been) "
    r"(confirmed|booked|placed|processed|cancelled|canceled|approved)",
    r"(you('ve| have) reached|you('re| are) (speaking|through) (with|to))",
    r"(customer|technical) (service|support|care)",
    r"this is \w+ (from|with|at|speaking)",
    r"can i (have|get|take) your",
    r"(verify|confirm) (your|the)",
    r"date of birth",
    r"account number",
    r"let me (check|look|see|pull)",
    r"i (can|could) see",
    r"i('m| am) (so |very |really |terribly )?sorry",
    r"i apologi[sz]e",
    r"anything else i can",
    r"i('ve| have) (issued|processed|updated|credited|refunded)",
    r"have a (great|nice|good|wonderful) (day|evening)",
    r"(call|ring) us back",  # a message left by an agent nobody answered
    r"returning your call",
    # Recorded announcements on hold speak for the company: a voice of their own is then an agent's side.
    r"your call is important",
    r"(please )?stay on the line",
    r"(agents?|representatives?|advisors?|colleagues?) (are|is) (currently |still )?(busy|helping|assisting)",
    r"(will be with you|answer your call) (shortly|soon|as soon as possible|in a moment)",
    r"(this|your) call (may|will|might) be (recorded|monitored)",
    # Spanish
    r"gracias por (llamar|su llamada|comunicarse)",
    r"(en que|como) (le |te )?(puedo|podemos) (ayudar|servir)",
    r"le atiende",
    r"servicio (al|de) cliente",
    r"(atencion|soporte) al cliente",
    r"lo siento",
    r"(su|tu) (nombre|numero de cliente|fecha de nacimiento)",
    r"puedo preguntar",
    r"(verificar|confirmar) (su|sus|tu)",
    r"(llamenos|devuelvanos la llamada)",
    # German
    r"wie kann ich (ihnen )?(weiter ?)?helfen",  # Whisper writes "weiterhelfen" and "weiter helfen"
    r"was kann ich fur sie tun",
    r"sie sprechen mit",
    r"kunden(service|dienst|betreuung)",
    r"(danke|vielen dank) fur ihren anruf",
    r"das tut mir (sehr )?leid",
    r"ich sehe (nach|hier|gerade)",
    r"ihre (kundennummer|vertragsnummer|geburtsdatum)",
    r"ihren namen",
    r"rufen sie uns (bitte )?zuruck",
    # French
    r"service (client|clientele)",
    r"je vous ecoute",
    r"(comment|en quoi) (puis-je|je peux|puis je) vous (aider|etre utile)",
    r"que (puis-je|je peux|puis je) faire pour vous",
    r"(je suis )?(vraiment |tres )?desole",
    r"votre (nom|numero|date de naissance)",
    r"je vois que",
    r"merci (de|pour) votre appel",
    r"nous rappeler",
    # Italian
    r"grazie (per|di) (aver|averci|avere) chiamato",
    r"(come|in cosa|in che cosa) (la |le )?posso (aiutar|esser)",
    r"(servizio|assistenza) clienti",
    r"mi dispiace",
    r"(il suo|la sua) (nome|codice cliente|numero cliente|data di nascita|codice fiscale)",
    r"(verificare|confermare) (il suo|la sua|i suoi)",
    r"vedo che",
    r"altro in cui (posso|possa)",
    r"(ci richiami|richiamarci)",
]
_CUSTOMER = [
    # English
    r"i('m| am) calling (about|to|because|regarding)",
    r"i( want| need| would like|'d like) to (cancel|change|complain|return|know)",
    r"i( want| would like|'d like) to (make a|book|order|buy|report)",
    r"i('m| am) (also )?looking for (a|an|some|information)\b",
    r"can you help me",
    r"\bmy (bill|order|internet|account|phone|parcel|package|card|contract|car|money)\b",
    r"i (was|have been|got) (charged|billed)",
    r"i did(n't| not) (receive|get)",
    r"i have (a|an) (problem|issue|complaint|question)",
    r"(is|are) (still )?not working",
    r"i will cancel",
    r"(call|ring) me back",  # a customer's voicemail
    # Spanish
    r"quiero (cancelar|cambiar|reclamar|saber)",
    r"\bmi (contrato|factura|pedido|cuenta|paquete|internet)\b",
    r"no (he recibido|funciona|me ha llegado)",
    r"tengo un problema",
    r"llamo (por|para|porque)",
    r"(llameme|devuelvame la llamada)",
    # German
    r"\bmeine[mnr]? (rechnung|stromrechnung|bestellung|lieferung)\b",
    r"\bmein(em|en)? (vertrag|paket|konto|internet)\b",
    r"ich (mochte|will) (kundigen|wissen|mich beschweren)",
    r"funktioniert (immer noch )?nicht",
    r"ich habe (ein|eine) (problem|frage)",
    r"vielen dank fur ihre hilfe",
    r"rufen sie mich (bitte )?zuruck",
    # French
    r"je n'ai pas (recu|eu)",
    r"\bmon (colis|compte|contrat|forfait)\b",
    r"\bma (facture|commande|livraison)\b",
    r"je (voudrais|veux) (annuler|changer|savoir)",
    r"j'ai un probleme",
    r"quand est-ce que",
    r"j'appelle (pour|parce|au sujet|concernant|a propos)",
    r"rappele[rz][- ]moi",
    # Italian
    r"\b(il mio|la mia) (bolletta|fattura|ordine|contratto|pacco|conto|abbonamento|linea)\b",
    r"non (ho ricevuto|mi e arrivat[oa]|funziona)",
    r"ho un problema",
    r"(vorrei|voglio) (disdire|annullare|cancellare|cambiare|sapere|reclamare)",
    r"chiamo (per|perche)",
    r"mi (richiami|richiamate)",
]
_AGENT_CUES = [re.compile(pattern) for pattern in _AGENT]
_CUSTOMER_CUES = [re.compile(pattern) for pattern in _CUSTOMER]
# The score gap at which the confidence reaches 1 - 1/e (about 0.63).
CONFIDENCE_SCALE = 2.0
# With three voices or more, a voice besides the best-scoring one is an agent too when its own words score at
# least this (two agent phrases more than customer ones): the second agent of a transfer greets and reports
# what they see or did as the first one does, while a customer who apologises once stays a customer.
SECOND_AGENT_SCORE = 2


def _folded(text: str) -> str:
    """Lower case without accents, typographic apostrophes made plain: "Désolé" -> "desole"."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("\u2019", "'"))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


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
