"""Who is the agent, from the words: cue phrases per language, the stereo swap check and the override."""

# Turns in fifteen languages: Cyrillic, Turkish and full-width letters that look like Latin ones are meant.
# ruff: noqa: RUF001

from __future__ import annotations

import numpy as np
import pytest

from callsense.calls.schemas import RoleSource, Speaker, SpeakerMethod
from callsense.config.models import AgentSpeaks, SpeakerSettings, SwapCheck
from callsense.speech import speakers
from callsense.speech.diarization import Diarization
from callsense.speech.roles import SECOND_AGENT_SCORE, agent_score, guess_agent, guess_agents
from callsense.speech.turns import SpokenWord

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
    "it": (
        "Buongiorno, grazie per aver chiamato. Come posso aiutarla? Mi dispiace. Mi può dire il suo nome?",
        "Buongiorno. Non ho ricevuto il mio ordine e ho un problema con la mia bolletta.",
    ),
}

# How agents answer and customers open in each language, as Whisper writes them: each greeting alone must
# point the right way.
GREETINGS = {
    "en": ("Acme, this is Sarah speaking, how may I help you?", "Hi, I'm calling about my order."),
    "en-reached": ("You've reached Acme, what can I help you with today?", "Hi, I'd like to cancel."),
    "en-speaking": ("Hi, you're speaking with Tom. What can I do for you?", "Hi, can you help me?"),
    "es": (
        "Buenos días, le atiende Laura. ¿Cómo puedo ayudarle?",
        "Hola, llamo porque no me ha llegado el pedido.",
    ),
    "es-servir": ("Compañía Sol, buenas tardes, ¿en qué puedo servirle?", "Tengo un problema con mi pedido."),
    "de": (
        "Guten Tag, Sie sprechen mit Frau Berger. Wie kann ich Ihnen weiterhelfen?",
        "Hallo, ich habe ein Problem mit meiner Rechnung.",
    ),
    "de-whisper": ("Guten Tag, wie kann ich Ihnen weiter helfen?", "Ich habe eine Frage zu meinem Vertrag."),
    "de-tun": ("Stadtwerke, guten Morgen. Was kann ich für Sie tun?", "Ja, es geht um meinen Vertrag."),
    "fr": (
        "Bonjour, Sophie à l\u2019appareil, en quoi puis-je vous aider ?",
        "Bonjour, j\u2019appelle pour ma facture.",
    ),
    "fr-faire": ("Bonjour madame, que puis-je faire pour vous ?", "J'appelle au sujet de mon colis."),
    "it": (
        "Buongiorno, sono Marco del servizio clienti, in cosa posso esserle utile?",
        "Buongiorno, chiamo per la mia bolletta.",
    ),
    "it-aiutare": ("Pronto, assistenza clienti, come la posso aiutare?", "Il mio internet non funziona."),
}

# The languages Whisper transcribes most in contact centres after those five, as it writes them (punctuation,
# capitals; Chinese in both scripts): an agent's greeting and verification turns, a customer's problem turns.
MORE_CALLS = {
    "pt-BR": (
        "Olá, obrigado por ligar para a Vivo, meu nome é Carla. Em que posso ajudar? Pode me informar o seu "
        "CPF? Estou vendo aqui que a fatura foi paga.",
        "Oi, estou ligando porque a minha fatura veio muito alta. Eu quero cancelar o meu plano.",
    ),
    "pt-PT": (
        "Bom dia, obrigada por contactar a MEO. Como posso ajudá-lo? Qual é o seu NIF? Peço desculpa pela "
        "demora.",
        "Bom dia. Estou a ligar porque a minha encomenda ainda não chegou.",
    ),
    "nl": (
        "Goedemorgen, bedankt voor het wachten. Waarmee kan ik u helpen? Mag ik uw geboortedatum? Ik zie "
        "hier dat de betaling binnen is.",
        "Ja, hallo. Ik bel over mijn factuur. Ik wil mijn abonnement opzeggen, want het internet werkt niet.",
    ),
    "pl": (
        "Dzień dobry, dziękujemy za kontakt. W czym mogę pomóc? Proszę podać numer klienta. Widzę tutaj, "
        "że faktura została opłacona.",
        "Dzień dobry, dzwonię w sprawie mojej faktury. Internet nie działa i chcę zrezygnować.",
    ),
    "ru": (
        "Добрый день, спасибо за ваш звонок. Чем могу вам помочь? Назовите, пожалуйста, вашу фамилию и дату "
        "рождения. Приношу свои извинения.",
        "Здравствуйте. Я звоню по поводу моего счёта. Интернет не работает, посылку я не получил.",
    ),
    "tr": (
        "İyi günler, aradığınız için teşekkür ederiz. Size nasıl yardımcı olabilirim? Doğum tarihinizi "
        "alabilir miyim? Özür dileriz.",
        "Merhaba, faturam hakkında arıyorum. İnternetim çalışmıyor, aboneliğimi iptal etmek istiyorum.",
    ),
    "ja": (
        "お電話ありがとうございます。カスタマーセンターの田中です。ご用件をお伺いします。お名前と生年月日を"
        "お願いします。申し訳ございません。",
        "あの、注文した荷物がまだ届いていないんですけど。インターネットもつながらないので、解約したいです。",
    ),
    "zh-Hans": (
        "您好，感谢您的来电，请问有什么可以帮您？请提供一下您的姓名和手机号，我帮您查一下。非常抱歉。",
        "你好，我的订单到现在还没收到，宽带也用不了。我想取消。",
    ),
    "zh-Hant": (
        "您好，謝謝您的來電，請問有什麼可以幫您？請提供您的帳號，我幫您查一下。非常抱歉。",
        "你好，我的訂單還沒收到，網路也用不了，我想退訂。",
    ),
    "ko": (
        "네, 전화 주셔서 감사합니다. 고객센터 상담원 김민지입니다. 무엇을 도와드릴까요? 성함과 생년월일 "
        "말씀해 주시겠어요? 확인해 드리겠습니다.",
        "안녕하세요. 제 주문이 아직 못 받았어요. 인터넷이 안 돼서 해지하고 싶어요.",
    ),
    "ar": (
        "مرحباً، شكراً لاتصالك بخدمة العملاء. كيف يمكنني مساعدتك؟ هل يمكنك إعطائي رقم حسابك؟ نعتذر عن الإزعاج.",
        "مرحباً، أتصل بخصوص فاتورتي. الإنترنت لا يعمل، وأريد إلغاء الاشتراك.",
    ),
    "hi": (
        "नमस्ते, कॉल करने के लिए धन्यवाद। मैं आपकी क्या मदद कर सकता हूँ? कृपया आपका अकाउंट नंबर बताइए। "
        "असुविधा के लिए हम माफ़ी चाहते हैं।",
        "नमस्ते, मेरा इंटरनेट काम नहीं कर रहा है। मुझे एक समस्या है, मेरा बिल भी गलत आया है।",
    ),
}

# Everyday sentences of each language, not a call's business: none of the fifteen languages' phrases fire.
PLAIN = {
    "en": "We went to the beach on Sunday and the children played until the evening.",
    "es": "El domingo fuimos a la playa y los niños jugaron hasta la noche.",
    "de": "Am Sonntag waren wir am Strand, und die Kinder haben bis zum Abend gespielt.",
    "fr": "Dimanche, nous sommes allés à la plage et les enfants ont joué jusqu'au soir.",
    "it": "Domenica siamo andati al mare e i bambini hanno giocato fino a sera.",
    "pt": "No domingo fomos à praia e o meu irmão jogou futebol com as crianças até à noite.",
    "nl": "Zondag gingen we naar het strand en mijn broer speelde tot de avond met de kinderen.",
    "pl": "W niedzielę pojechaliśmy nad morze, a mój brat bawił się z dziećmi do wieczora.",
    "ru": "В воскресенье мы ездили на море, и мой брат играл с детьми до самого вечера.",
    "tr": "Pazar günü denize gittik ve kardeşim akşama kadar çocuklarla oynadı.",
    "ja": "日曜日に海へ行って、子供たちは夕方まで遊びました。",
    "zh": "星期天我们去了海边，我的弟弟和孩子们一直玩到晚上。",
    "ko": "일요일에 바다에 갔고 아이들은 저녁까지 놀았어요.",
    "ar": "ذهبنا إلى البحر يوم الأحد ولعب أخي مع الأطفال حتى المساء.",
    "hi": "रविवार को हम समुद्र तट पर गए और मेरा भाई शाम तक बच्चों के साथ खेलता रहा।",
}


def said(start: float, end: float) -> SpokenWord:
    return SpokenWord(start, end, " word", 0.9, Speaker.unknown)


@pytest.mark.parametrize("language", sorted(CALLS))
def test_the_agent_sounds_like_one_in_every_language(language: str) -> None:
    agent, customer = CALLS[language]
    assert agent_score(agent) >= 2 and agent_score(customer) <= -1
    guess = guess_agent([customer, agent])
    assert guess.agent == 1 and guess.confidence > 0.8


@pytest.mark.parametrize("language", sorted(GREETINGS))
def test_a_greeting_and_an_opening_alone_tell_the_agent(language: str) -> None:
    agent, customer = GREETINGS[language]
    assert agent_score(agent) >= 1 and agent_score(customer) <= -1
    assert guess_agent([customer, agent]).agent == 1


@pytest.mark.parametrize("language", sorted(MORE_CALLS))
def test_the_agent_sounds_like_one_in_the_languages_after_those_five(language: str) -> None:
    agent, customer = MORE_CALLS[language]
    assert agent_score(agent) >= 3 and agent_score(customer) <= -3
    guess = guess_agent([customer, agent])
    assert guess.agent == 1 and guess.confidence > 0.9


@pytest.mark.parametrize("language", sorted(PLAIN))
def test_everyday_speech_fires_no_language_s_phrases(language: str) -> None:
    # Fifteen languages' phrases are tried on every call: none may take a sentence of another for a cue.
    assert agent_score(PLAIN[language]) == 0


@pytest.mark.parametrize(
    "said",
    [
        "Ik zie dat er twee keer is afgeschreven.",  # a customer sees it too: the agent sees it "hier"
        "Vejo que cobraram duas vezes.",
        "Я вижу, что деньги списали дважды.",
        "Widzę, że pobrali opłatę dwa razy.",
        "أعتذر على الإزعاج، سؤال صغير.",  # a caller's "sorry to trouble you": the company says "we"
        "我想确认一下。",  # a caller's "I'd like to confirm"
        "समझ में नहीं आया।",  # "I did not understand", either side
        "문제가 있으신가요?",  # the agent's question, not a customer's problem
        "他に何か方法はありますか？",  # "another way?"; an agent's "anything else?" is "他に何かございますか"
    ],
)
def test_words_either_side_says_are_no_cue(said: str) -> None:
    assert agent_score(said) == 0


@pytest.mark.parametrize(
    ("written", "plain"),
    [
        ("Serviço ao cliente.", "Servico ao cliente."),
        ("Спасибо за ожидание, ваш счёт.", "Спасибо за ожидание, ваш счет."),
        ("أريد إلغاء العقد.", "اريد الغاء العقد."),
        ("फ़ोन करने के लिए धन्यवाद।", "फोन करने के लिए धन्यवाद।"),
        ("Müşteri hizmetleri, iyi günler.", "MÜŞTERİ HİZMETLERİ, İYİ GÜNLER."),
    ],
)
def test_a_phrase_counts_however_whisper_spells_its_marks(written: str, plain: str) -> None:
    # Whisper writes accents, "ё", hamza and the nukta or leaves them out, and capitals at will.
    assert agent_score(written) == agent_score(plain) != 0


@pytest.mark.parametrize(
    "phrase", ["How can I help you?", "What can I help you with?", "Yes, can I help you?", "May I help you?"]
)
def test_one_offer_of_help_counts_once(phrase: str) -> None:
    assert agent_score(phrase) == 1


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
    assert swapped.labelled(said(0.0, 1.0), channel=1).speaker is Speaker.agent


def test_a_call_on_the_configured_side_is_left_alone() -> None:
    found = stereo(SwapCheck.swap, agent_right=False).found
    assert not found.swapped and not found.swap_suggested and found.agent == "left"


# A booking call between people, not a support script: the agent greets with "can I help you", asks for
# details and confirms; the customer is looking for things and wants to book, and says the closing line.
BOOKING = (
    "Hello, is this the booking line? I'm looking for a train to Leeds on Saturday. Okay, great, I would "
    "like to book it for four people. And I'm also looking for a hotel near the station. Thank you very "
    "much, have a nice day.",
    "Yes, hello, can I help you? Sure, please go ahead. Could you please tell me your name? Thank you, your "
    "booking is confirmed. Could you tell me your email address? Your reservation has been confirmed too.",
)


def test_a_booking_call_recorded_the_other_way_round_is_warned_of() -> None:
    # Customer on the left, where the settings expect the agent (a real recording of this kind scored 0.39
    # the wrong way: its customer's "have a nice day" was the only telling phrase).
    found = speakers.by_channels(BOOKING, configured_agent=0, override=None, settings=SpeakerSettings()).found
    assert found.swap_suggested and found.agent == "left" and found.role_confidence > 0.9


def test_a_one_sided_stereo_call_has_one_speaker() -> None:
    # A customer's voicemail recorded in stereo: the agent's channel holds no words.
    message = "Hi, this is Jane, I am calling about my order, please call me back."
    found = speakers.by_channels(("", message), configured_agent=0, override=None, settings=SpeakerSettings())
    assert found.found.count == 1 and stereo(SwapCheck.warn).found.count == 2


def test_words_that_tell_nothing_never_swap_even_at_confidence_zero() -> None:
    settings = SpeakerSettings(swap_check=SwapCheck.swap, swap_confidence=0.0)
    plain = ("Yes.", "Okay, fine.")
    found = speakers.by_channels(plain, configured_agent=1, override=None, settings=settings).found
    assert found.agent == "right" and not found.swapped and not found.swap_suggested


def test_checks_off_keep_the_setting() -> None:
    found = stereo(SwapCheck.off).found
    assert found.agent == "left" and not found.swap_suggested and found.role_confidence == 0.0


def test_metadata_always_wins() -> None:
    kept = stereo(SwapCheck.swap, override=0)
    assert kept.found.agent == "left" and kept.found.agent_source is RoleSource.metadata
    assert not kept.found.swapped and kept.channel_roles[0] is Speaker.agent


@pytest.mark.parametrize("check", [SwapCheck.warn, SwapCheck.swap])
def test_metadata_the_conversation_contradicts_wins_with_a_warning(check: SwapCheck) -> None:
    # A recording source set up with the agent on the left while its trunk records them on the right.
    found = stereo(check, override=0).found
    assert found.agent == "left" and found.agent_source is RoleSource.metadata and not found.swapped
    assert found.swap_suggested and found.role_confidence > 0.8


def test_metadata_the_conversation_agrees_with_is_not_warned_of() -> None:
    found = stereo(SwapCheck.warn, override=1).found
    assert found.agent == "right" and not found.swap_suggested and found.role_confidence > 0.8
    assert stereo(SwapCheck.off, override=0).found.role_confidence == 0.0  # off: not even read


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
    assert mapped.labelled(said(2.5, 2.7), channel=0).speaker is Speaker.agent


def test_a_single_voice_asking_for_help_is_a_customer() -> None:
    one = Diarization(
        starts=np.array([0.0]),
        scores=np.ones((1, 1), np.float32),
        count=1,
        confidence=0.9,
    )
    mapped = speakers.by_voices(one, [(0.0, 1.0, "Hi, I am calling about my bill.")])
    assert mapped.voice_roles == (Speaker.customer,) and mapped.found.agent is None
    assert mapped.found.role_confidence == 0.632  # two customer phrases: as sure as two agent ones would be


def mono(*voices: int) -> Diarization:
    """A diarization whose windows, one every 2 s from 0 s, each belong clearly to the voice given."""
    count = max(voices) + 1
    scores = np.full((len(voices), count), 0.1, dtype=np.float32)
    scores[np.arange(len(voices)), voices] = 0.9
    return Diarization(starts=2.0 * np.arange(len(voices)), scores=scores, count=count, confidence=0.6)


@pytest.mark.parametrize(
    ("voices", "roles"),
    [
        (mono(0, 1), (Speaker.customer, Speaker.agent)),
        (mono(0, 1, 2), (Speaker.customer, Speaker.agent, Speaker.customer)),
    ],
)
def test_without_telling_words_the_first_voice_to_speak_is_the_agent(
    voices: Diarization, roles: tuple[Speaker, ...]
) -> None:
    # Speaker 1 is heard first but says nothing (music or a noise the VAD passed): it was the agent, and
    # with three voices both people were customers.
    words = [(2.5, 3.0, "Hello, good morning."), (4.5, 5.0, "Yes, good morning.")][: voices.count - 1]
    mapped = speakers.by_voices(voices, words)
    assert mapped.voice_roles == roles
    assert mapped.found.agent == "speaker 2" and mapped.found.role_confidence == 0.0


TRANSFER = [
    "Thank you for calling Acme, this is David. How can I help you today?",
    "Hi, I was charged twice for my phone bill this month.",
    "I am sorry to hear that. Let me check. I will transfer you to billing, please hold.",
    "Hello, this is Mark from billing. I can see the double charge. I have refunded the second payment.",
    "Great, thank you. When will I get my money back?",
    "In three to five days. Is there anything else I can help you with?",
]


def test_a_transferred_calls_second_agent_is_an_agent() -> None:
    # Mono, three voices: the first agent, the customer, the billing agent the call was transferred to.
    voices = mono(0, 1, 0, 2, 1, 2)
    words = [(2.0 * turn + 0.5, 2.0 * turn + 1.0, text) for turn, text in enumerate(TRANSFER)]
    mapped = speakers.by_voices(voices, words)
    assert mapped.voice_roles == (Speaker.agent, Speaker.customer, Speaker.agent)
    assert mapped.found.agent == "speaker 1, speaker 3" and mapped.found.count == 3
    assert mapped.found.role_confidence > 0.9  # both agents' words are far from the customer's
    assert [mapped.labelled(said(2.0 * turn + 0.5, 2.0 * turn + 1.0), 0).voice for turn in range(6)] == [
        0,
        1,
        0,
        2,
        1,
        2,
    ]


def test_a_recorded_announcement_on_hold_is_on_the_agents_side() -> None:
    # Hold music with an announcement between its bars becomes a voice of its own on a mono call: it was
    # a customer, whose talk time and words then held the company's message.
    announcement = (
        "Thank you for holding. Your call is important to us. Please stay on the line, one of our agents "
        "will be with you shortly."
    )
    assert agent_score(announcement) >= SECOND_AGENT_SCORE
    assert guess_agents([CALLS["en"][0], CALLS["en"][1], announcement]).agents == (0, 2)


def test_a_third_voice_that_does_not_talk_like_an_agent_is_a_customer() -> None:
    # A supervisor joining with a few plain words, or a relative of the caller: nothing says "agent".
    texts = [CALLS["en"][0], CALLS["en"][1], "Yes, that's right, go ahead."]
    guess = guess_agents(texts)
    assert guess.agents == (0,) and guess.confidence > 0.8


def test_one_voice_of_a_three_voice_call_stays_a_customer_however_they_all_talk() -> None:
    agent_like = CALLS["en"][0]
    assert agent_score(agent_like) >= SECOND_AGENT_SCORE
    guess = guess_agents([agent_like, agent_like, agent_like])
    assert guess.agents == (0, 2) and guess.confidence == 0.0


def test_two_voices_keep_one_agent_even_when_both_talk_like_one() -> None:
    guess = guess_agents([CALLS["en"][0], CALLS["de"][0]])
    assert guess.agents == (0,)


@pytest.mark.parametrize(
    ("message", "role"),
    [
        ("Hey, it's Jane. Call me back when you get a chance. Bye.", Speaker.customer),
        ("Hallo, hier ist Jana Roth, rufen Sie mich bitte zurück.", Speaker.customer),
        ("Bonjour, c'est Marie, rappelez-moi s'il vous plaît.", Speaker.customer),
        ("Hola, soy Ana, llámeme cuando pueda.", Speaker.customer),
        ("Ciao, sono Anna, mi richiami per favore.", Speaker.customer),
        ("Goedemiddag, met Anna de Vries, bel me alstublieft terug.", Speaker.customer),
        ("Dzień dobry, tu Anna Nowak, proszę do mnie oddzwonić.", Speaker.customer),
        ("Здравствуйте, это Ольга. Перезвоните мне, пожалуйста.", Speaker.customer),
        ("もしもし、山田です。折り返しお電話ください。", Speaker.customer),
        ("你好，我是王先生，请给我回个电话。", Speaker.customer),
        ("Olá, aqui é a Ana, me liga quando puder.", Speaker.customer),
        ("Hello, this is David returning your call. Please call us back on 555 1234.", Speaker.agent),
    ],
)
def test_a_message_left_on_a_one_sided_call_gets_the_role_of_who_left_it(message: str, role: Speaker) -> None:
    # A customer's voicemail, or an agent's message on an outbound call nobody answered: one voice only.
    mapped = speakers.by_voices(mono(0), [(0.2, 1.0, message)])
    assert mapped.voice_roles == (role,)
    assert mapped.found.agent == ("speaker 1" if role is Speaker.agent else None)


@pytest.mark.parametrize(
    ("agent_speaks", "roles", "disagrees"),
    [
        (None, (Speaker.customer, Speaker.agent, Speaker.customer), False),  # the words: voice 2 greets
        (AgentSpeaks.first, (Speaker.agent, Speaker.customer, Speaker.customer), True),
        (AgentSpeaks.second, (Speaker.customer, Speaker.agent, Speaker.customer), False),
    ],
)
def test_metadata_naming_the_first_or_second_voice_to_speak_always_wins_on_mono(
    agent_speaks: AgentSpeaks | None, roles: tuple[Speaker, ...], disagrees: bool
) -> None:
    # Speaker 3 is heard first but says nothing (hold music): the order that counts is the order of words.
    # The words make the second voice to speak the agent; metadata naming the first wins all the same, and
    # the record says the words disagree (a customer who talks like an agent: only the metadata can tell).
    voices = mono(2, 0, 1)
    words = [(2.5, 3.0, CALLS["en"][1]), (4.5, 5.0, CALLS["en"][0])]
    mapped = speakers.by_voices(voices, words, agent_speaks=agent_speaks)
    assert mapped.voice_roles == roles
    source = RoleSource.conversation if agent_speaks is None else RoleSource.metadata
    assert mapped.found.agent_source is source and mapped.found.swap_suggested is disagrees
    assert mapped.found.role_confidence > 0.8  # what the words say, whoever won


def test_metadata_names_the_first_agent_of_a_transfer_and_the_words_the_second() -> None:
    words = [(2.0 * turn + 0.5, 2.0 * turn + 1.0, text) for turn, text in enumerate(TRANSFER)]
    mapped = speakers.by_voices(mono(0, 1, 0, 2, 1, 2), words, agent_speaks=AgentSpeaks.first)
    assert mapped.voice_roles == (Speaker.agent, Speaker.customer, Speaker.agent)
    assert mapped.found.agent == "speaker 1, speaker 3" and not mapped.found.swap_suggested


def test_a_one_voice_call_whose_agent_speaks_second_has_no_agent() -> None:
    # An outbound call that reached a voicemail: the one voice is the customer's greeting.
    mapped = speakers.by_voices(
        mono(0), [(0.2, 1.0, "Hello, leave a message.")], agent_speaks=AgentSpeaks.second
    )
    assert mapped.voice_roles == (Speaker.customer,) and mapped.found.agent is None
    assert mapped.found.agent_source is RoleSource.metadata
