"""When each character was said: Whisper's aligned words carried onto the kept text, and the
sentence a claim is placed in."""

from __future__ import annotations

from pipeline.records import TranscriptSegment
from pipeline.speech.timing import carry_times, char_times


def _segment(text: str, times: tuple[float, ...]) -> TranscriptSegment:
    return TranscriptSegment(
        segment_id="s", stream_id="room", offset_s=10.0, end_offset_s=20.0, text=text, char_starts_s=times
    )


def test_char_times_share_a_words_span_evenly() -> None:
    text, times = char_times(
        [{"word": "喝了", "start": 1.0, "end": 1.4}, {"word": "降", "start": 1.5, "end": 1.7}]
    )
    assert text == "喝了降"
    assert times == [1.0, 1.2, 1.5]


def test_carry_times_follow_the_filtered_text() -> None:
    # Traditional → Simplified keeps each time; a dropped space and a dropped filler shift nothing
    source = "這個 嗯面霜"
    times = [0.0, 0.2, 0.3, 0.5, 0.7, 0.9]
    assert carry_times(source, times, "这个面霜") == [0.0, 0.2, 0.7, 0.9]
    # a character the source never had takes the time of the one before it
    assert carry_times("美白", [1.0, 1.3], "美白霜") == [1.0, 1.3, 1.3]


def test_sentence_at_cuts_at_stops_and_pauses() -> None:
    text = "大家好今天上新。这个喝了以后能降血压降血糖"
    times = [10.0 + 0.2 * i for i in range(8)] + [13.0 + 0.2 * i for i in range(len(text) - 8)]
    segment = _segment(text, tuple(times))
    claim = text.index("降血压")
    sentence = segment.sentence_at(claim, claim + 3)
    assert text[sentence.start : sentence.end] == "这个喝了以后能降血压降血糖"
    assert sentence.offset_s == 13.0
    assert sentence.end_offset_s == 20.0  # the last sentence ends with the segment
    first = segment.sentence_at(0, 3)
    assert (first.start, first.end) == (0, 8)
    assert first.offset_s == 10.0
    assert first.end_offset_s == 13.0


def test_a_pause_ends_a_sentence_without_punctuation() -> None:
    text = "好的宝宝们这个能治疗失眠"
    times = [0.0, 0.2, 0.4, 0.6, 0.8] + [2.0 + 0.2 * i for i in range(len(text) - 5)]
    segment = _segment(text, tuple(t + 10.0 for t in times))
    sentence = segment.sentence_at(text.index("治疗"), text.index("治疗") + 2)
    assert text[sentence.start : sentence.end] == "这个能治疗失眠"
    assert sentence.offset_s == 12.0


def test_without_times_the_sentence_is_the_segment() -> None:
    segment = _segment("这个能治疗失眠", ())
    sentence = segment.sentence_at(3, 5)
    assert (sentence.start, sentence.end, sentence.offset_s, sentence.end_offset_s) == (0, 7, 10.0, 20.0)


def test_run_on_speech_places_the_claim_in_its_clause() -> None:
    """No stop and no pause in 10 s of talk (an anchor who never stops): the claim's clause, with
    the next one when it is short, not the whole piece."""
    text = "保湿效果很好,秋冬天用也不会干,而且这个价格是全网最低价,除了直播间没有这个价,库存不多了"
    times = tuple(10.0 + 0.25 * i for i in range(len(text)))
    segment = _segment(text, times)
    claim = text.index("全网最低价")
    sentence = segment.sentence_at(claim, claim + 5)
    assert text[sentence.start : sentence.end] == "而且这个价格是全网最低价,"
    assert sentence.offset_s == times[text.index("而且")]
    assert sentence.end_offset_s - sentence.offset_s < 4.0
    short = text.index("库存")
    last = segment.sentence_at(short, short + 2)
    assert text[last.start : last.end] == "库存不多了"


def test_a_short_clause_takes_the_next_one_with_it() -> None:
    text = "宝宝们,全网最低,除了直播间没有这个价,拍一发二,库存不多了,赶紧拍"
    times = tuple(0.25 * i for i in range(len(text)))
    segment = _segment(text, times)
    claim = text.index("全网最低")
    sentence = segment.sentence_at(claim, claim + 4)
    assert text[sentence.start : sentence.end] == "全网最低,除了直播间没有这个价,"
