"""SSE framing: one rule says where an event ends, and every reader (parse_sse, recorded timing,
the cassette serializer) follows it."""

from __future__ import annotations

import pytest

from conformance import sse

BODIES = [
    b"event: a\ndata: 1\n\nevent: b\ndata: 2\n\n",
    b"event: a\r\ndata: 1\r\n\r\n: comment\r\n\r\ndata: 2",  # CRLF, comment, no final blank
    b"event: only-a-name\n\ndata: x\ndata: y\n\n\n\n",  # nameless data, no-data block
    b"event: a\rdata: 1\r\rdata: 2\r\r",  # lone CR line ends
    b'event: ping\ndata: {"type": "ping"}      \n\n',  # padded JSON
    b"data\n\n",  # a data field without a colon is an empty value
    b"",
]


@pytest.mark.parametrize("body", BODIES)
def test_event_ends_agree_with_parse_sse(body: bytes) -> None:
    ends = sse.event_ends(body)
    assert len(ends) == len(sse.parse_sse(body))
    assert ends == sorted(ends) and all(0 < e <= len(body) for e in ends)
    # each event parses on its own from its slice: the offsets are real event boundaries
    starts = [0, *ends][: len(ends)]
    pieces = [sse.parse_sse(body[a:b]) for a, b in zip(starts, ends, strict=True)]
    assert [p for [p] in pieces] == sse.parse_sse(body)


def test_event_ends_are_just_past_the_blank_line() -> None:
    body = BODIES[0]
    assert sse.event_ends(body) == [len(b"event: a\ndata: 1\n\n"), len(body)]
    crlf = b"data: 1\r\n\r\ndata: 2\r\n\r\n"
    assert sse.event_ends(crlf) == [len(b"data: 1\r\n\r\n"), len(crlf)]


def test_frames_fields() -> None:
    body = b": hi\nid: 7\nevent: a\ndata:  x\ndata:y\nretry: 5\n\ndata: z"
    [first, second] = sse.frames(body)
    assert (first.name, first.data, first.end) == (b"a", [b" x", b"y"], body.index(b"data: z"))
    assert (second.name, second.data, second.end) == (b"", [b"z"], len(body))
    [ev, nameless] = sse.parse_sse("event: a\ndata:  x\ndata:y\n\ndata: z")
    assert (ev.event, ev.data) == ("a", " x\ny")
    assert (nameless.event, nameless.data, nameless.json) == ("message", "z", None)


def test_a_block_without_data_dispatches_nothing_and_forgets_its_name() -> None:
    [ev] = sse.parse_sse(b"event: lost\n\ndata: 1\n\n")
    assert (ev.event, ev.json) == ("message", 1)


def test_text_and_bytes_parse_alike_and_bad_utf8_is_an_error() -> None:
    body = 'event: t\ndata: {"text": "caf\u00e9 \u2028"}\n\n'
    assert sse.parse_sse(body) == sse.parse_sse(body.encode())
    assert sse.parse_sse(body)[0].json == {"text": "caf\u00e9 \u2028"}
    with pytest.raises(UnicodeDecodeError):
        sse.parse_sse(b"data: \xff\n\n")


def test_line_ends() -> None:
    assert sse.line_ends("a\nb\n") == {"\n"}
    assert sse.line_ends("a\r\nb\r\n") == {"\r\n"}
    assert sse.line_ends("a\r\nb\n") == {"\r\n", "\n"}
    assert sse.line_ends("a\rb") == {"\r"}
    assert sse.line_ends("") == set()


def test_is_event_stream() -> None:
    assert sse.is_event_stream("text/event-stream; charset=utf-8")
    assert sse.is_event_stream("Text/Event-Stream")
    assert not sse.is_event_stream("application/json")
