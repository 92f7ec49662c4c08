from __future__ import annotations

from callsense.calls.schemas import Speaker
from callsense.speech.turns import SpokenWord, turns_from_words


def word(start: float, text: str, speaker: Speaker) -> SpokenWord:
    return SpokenWord(start=start, end=start + 0.3, text=f" {text}", probability=0.9, speaker=speaker)


def test_interjection_inside_a_long_agent_segment_becomes_its_own_turn() -> None:
    # The agent's segment starts first and runs long; the customer's "okay" lands in the middle of it.
    # Ordering by segment start would put "okay" after the whole agent segment.
    agent = [
        word(0.0, "your", Speaker.agent),
        word(0.4, "refund", Speaker.agent),
        word(2.0, "is", Speaker.agent),
        word(2.4, "done", Speaker.agent),
    ]
    customer = [word(1.0, "okay", Speaker.customer)]
    turns = turns_from_words(agent + customer)
    assert [(t.speaker, t.text) for t in turns] == [
        (Speaker.agent, "your refund"),
        (Speaker.customer, "okay"),
        (Speaker.agent, "is done"),
    ]


def test_a_long_pause_splits_one_speaker_into_two_turns() -> None:
    words = [
        word(0.0, "hello", Speaker.agent),
        word(5.0, "still", Speaker.agent),
        word(5.4, "there", Speaker.agent),
    ]
    turns = turns_from_words(words)
    assert [t.text for t in turns] == ["hello", "still there"]
    assert turns[1].start == 5.0


def test_confidence_is_the_mean_word_probability() -> None:
    words = [
        SpokenWord(0.0, 0.2, " a", 0.5, Speaker.customer),
        SpokenWord(0.3, 0.5, " b", 1.0, Speaker.customer),
    ]
    (turn,) = turns_from_words(words)
    assert turn.confidence == 0.75


def test_no_words_no_turns() -> None:
    assert turns_from_words([]) == []


def test_each_turn_keeps_its_words_with_timings() -> None:
    words = [
        SpokenWord(0.0, 0.25, " hi", 0.8, Speaker.agent),
        SpokenWord(0.3, 0.61, " there", 0.9, Speaker.agent),
        SpokenWord(0.9, 1.2, " hello", 0.7, Speaker.customer),
    ]
    agent, customer = turns_from_words(words)
    assert [(w.start, w.end, w.text, w.probability) for w in agent.words] == [
        (0.0, 0.25, " hi", 0.8),
        (0.3, 0.61, " there", 0.9),
    ]
    assert [w.text for w in customer.words] == [" hello"]


def test_a_second_voice_of_the_same_role_takes_a_turn_of_its_own() -> None:
    # A transfer on a mono call: the first agent says "please hold", the second greets right after.
    words = [
        word(0.0, "please", Speaker.agent),
        word(0.4, "hold", Speaker.agent),
        SpokenWord(1.2, 1.5, " hello", 0.9, Speaker.agent, voice=2),
        SpokenWord(1.6, 1.9, " Mark", 0.9, Speaker.agent, voice=2),
    ]
    assert [(t.speaker, t.text) for t in turns_from_words(words)] == [
        (Speaker.agent, "please hold"),
        (Speaker.agent, "hello Mark"),
    ]
