"""Every capture from a real FreeSWITCH parses to the right messages."""

from __future__ import annotations

import pytest

from callcenter.telephony import wire
from tests.wire_captures import annotated_files, raw_files, raw_stream, segments


def freeswitch_segments():
    for path in annotated_files():
        for index, (direction, data) in enumerate(segments(path)):
            if direction == "S->C":
                yield pytest.param(path.name, data, id=f"{path.stem}-{index}")


@pytest.mark.parametrize(("name", "data"), list(freeswitch_segments()))
def test_each_captured_message_parses_whole(name, data):
    """One segment is one message, with nothing left over, even fed a byte at a time."""
    parser = wire.StreamParser()
    messages = []
    for i in range(len(data)):
        messages += parser.feed(data[i : i + 1])
    assert len(messages) == 1, name
    message = messages[0]
    if message.content_type in (wire.EVENT_PLAIN, wire.EVENT_JSON):
        event = message.event()
        assert event.name, name
    elif not message.content_type:
        # only the outbound connect reply comes unframed
        reply = wire.connect_reply(message)
        assert reply["Content-Type"] == "command/reply"
        assert reply["Reply-Text"] == "+OK\n"
        assert reply["Event-Name"] == "CHANNEL_DATA"


@pytest.mark.parametrize("path", raw_files(), ids=lambda p: p.stem)
def test_whole_sessions_parse_from_their_tcp_reads(path):
    parser = wire.StreamParser()
    messages = []
    for chunk in raw_stream(path):
        messages += parser.feed(chunk)
    assert messages, path.name
    assert parser._buffer == b"" and parser._pending is None, "bytes left over"
    for message in messages:
        if message.content_type in (wire.EVENT_PLAIN, wire.EVENT_JSON):
            assert message.event().name


def _events(filename: str) -> list[wire.Event]:
    path = next(p for p in annotated_files() if p.name == filename)
    out = []
    for direction, data in segments(path):
        if direction == "S->C":
            for message in wire.StreamParser().feed(data):
                if message.content_type.startswith("text/event"):
                    out.append(message.event())
    return out


def test_hangup_complete_keeps_both_hangup_causes():
    event = _events("08_channel_hangup_complete_event.txt")[0]
    assert event.name == "CHANNEL_HANGUP_COMPLETE"
    assert len(event.headers.get_all("Hangup-Cause")) == 2
    assert event.get("Hangup-Cause") == "NORMAL_CLEARING"
    assert event.variable("billsec") is not None


def test_dtmf_hash_is_url_decoded():
    digits = [e.get("DTMF-Digit") for e in _events("06_dtmf_event.txt")]
    assert digits == ["1", "#"]  # the capture sends the second as DTMF-Digit: %23


def test_background_job_carries_its_result_in_the_body():
    events = _events("04_background_job_event.txt")
    assert events[0].body == "+OK 6a5804ce-ada5-4363-8f39-c9fad4296a8a\n"
    assert events[1].body == "-ERR USER_BUSY\n"
    assert events[0].get("Job-Command-Arg").startswith("{ignore_early_media=true,")


def test_record_events_name_the_file():
    events = _events("07_record_events.txt")
    paths = [e.get("Record-File-Path") for e in events if e.name in ("RECORD_START", "RECORD_STOP")]
    assert paths and all(p.startswith("/") for p in paths)


def test_event_values_are_decoded_but_command_replies_are_not():
    messages = wire.StreamParser().feed(
        b"Content-Type: command/reply\nReply-Text: +OK Job-UUID: abc\nJob-UUID: abc\n\n"
    )
    assert messages[0].reply_text == "+OK Job-UUID: abc" and messages[0].ok
    event = _events("05_channel_answer_event.txt")[0]
    assert event.get("Event-Date-Local").count(" ") == 1  # %20 decoded
    assert event.uuid == "6a5804ce-ada5-4363-8f39-c9fad4296a8a"


def test_json_events_match_plain_ones():
    events = _events("16_json_format_events.txt")
    assert events and all(e.name for e in events)


def test_encoded_events_round_trip():
    headers = [("Event-Name", "DTMF"), ("DTMF-Digit", "#"), ("Caller-Caller-ID-Name", "王 小明")]
    data = wire.encode_event_plain(headers, body="+OK done\n")
    (message,) = wire.StreamParser().feed(data)
    event = message.event()
    assert event.get("DTMF-Digit") == "#" and event.get("Caller-Caller-ID-Name") == "王 小明"
    assert event.body == "+OK done\n"
    assert b"DTMF-Digit: %23" in data


def test_client_commands_round_trip_through_the_server_parser():
    data = wire.command("bgapi originate {a=1}loopback/x &park()", [("Job-UUID", "j-1")])
    data += wire.sendmsg("u-1", "execute", execute_app_name="playback", execute_app_arg="/a.wav")
    commands = wire.CommandParser().feed(data)
    assert commands[0][0] == "bgapi originate {a=1}loopback/x &park()"
    assert commands[0][1]["Job-UUID"] == "j-1"
    assert commands[1][0] == "sendmsg u-1"
    assert commands[1][1]["execute-app-name"] == "playback"


def test_garbage_is_a_protocol_error_with_the_bytes():
    with pytest.raises(wire.ProtocolError) as info:
        wire.StreamParser().feed(b"this is not a header\n\n")
    assert b"this is not a header" in info.value.raw


def client_segments():
    for path in annotated_files():
        for index, (direction, data) in enumerate(segments(path)):
            if direction == "C->S":
                yield pytest.param(data, id=f"{path.stem}-{index}")


@pytest.mark.parametrize("data", list(client_segments()))
def test_each_captured_client_command_parses_for_the_simulator(data):
    commands = wire.CommandParser().feed(data)
    assert len(commands) == 1
    line, _headers, _body = commands[0]
    assert line.split()[0] in {
        "auth",
        "api",
        "bgapi",
        "event",
        "sendmsg",
        "connect",
        "myevents",
        "linger",
        "nolinger",
        "filter",
        "exit",
        "noevents",
        "resume",
    }
