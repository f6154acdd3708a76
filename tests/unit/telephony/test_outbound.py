"""Outbound-socket sessions against a fake FreeSWITCH that connects to us and replays captures.

The fake checks that every command our session sends is byte for byte what the real client
sent in the capture, then answers with exactly what FreeSWITCH answered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from callcenter.telephony import wire
from callcenter.telephony.esl import EslError
from callcenter.telephony.outbound import OutboundSession, SessionHungUp, serve
from tests.wire_captures import _RAW_CHUNK, CAPTURES, raw_files, segments

TEST_TIMEOUT = 10.0
SESSION_09 = segments(CAPTURES / "09_outbound_socket_session.txt")
CHANNEL = "4a97ea71-977b-49db-8e32-7721f7c74e5a"
PLAYBACK_ID = "3867bf91-fbfa-4eef-985f-4540388d19f3"
DIGITS_ID = "054e7ec0-3184-41ba-b618-4ae6de17c319"
DIGITS_ARG = r"1 4 1 10000 # /srv/calls/media/followup_8k.wav silence_stream://250 ivr_choice \d+"


def run(coro: Awaitable) -> object:
    async def bounded():
        async with asyncio.timeout(TEST_TIMEOUT):
            return await coro

    return asyncio.run(bounded())


def events_in(chunks: list[bytes]) -> list[wire.Event]:
    parser = wire.StreamParser()
    messages = [m for chunk in chunks for m in parser.feed(chunk)]
    return [m.event() for m in messages if m.content_type in (wire.EVENT_PLAIN, wire.EVENT_JSON)]


def raw_session(path: Path) -> list[tuple[str, bytes]]:
    """(direction, bytes) per TCP read/write of a raw capture, directions as in segments()."""
    data = path.read_bytes()
    out = []
    for match in _RAW_CHUNK.finditer(data):
        direction = "C->S" if match.group(1) == b">>> SENT" else "S->C"
        start = match.end()
        out.append((direction, data[start : start + int(match.group(2))]))
    return out


async def play_freeswitch(port: int, script: list[tuple[str, bytes]]) -> list[tuple[bytes, bytes]]:
    """Connect like FreeSWITCH's socket app, replay ``script``; (ours, captured) per command."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = []
    buffer = b""
    try:
        for direction, data in script:
            if direction == "S->C":
                writer.write(data)
                await writer.drain()
                continue
            while b"\n\n" not in buffer:  # none of these commands has a body
                more = await reader.read(65536)
                if not more:
                    return received
                buffer += more
            ours, _, buffer = buffer.partition(b"\n\n")
            received.append((ours + b"\n\n", data))
    finally:
        writer.close()  # the call is over: FreeSWITCH closes the socket
    return received


async def session_with(
    script: list[tuple[str, bytes]], handler: Callable[[OutboundSession], Awaitable[object]]
) -> tuple[object, list[tuple[bytes, bytes]]]:
    """Serve one handler, let the fake FreeSWITCH connect; the handler's result and commands."""
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[object] = loop.create_future()

    async def wrapped(session: OutboundSession) -> None:
        try:
            outcome.set_result(await handler(session))
        except BaseException as exc:
            outcome.set_exception(exc)
            raise

    server = await serve("127.0.0.1", 0, wrapped)
    try:
        port = server.sockets[0].getsockname()[1]
        received = await play_freeswitch(port, script)
        return await asyncio.wait_for(outcome, 5), received
    finally:
        server.close()
        await server.wait_closed()


def test_capture_09_connect_execute_dtmf_hangup_and_disconnect_notice():
    async def ivr(session: OutboundSession) -> dict:
        seen: dict[str, object] = {}
        channel = await session.connect()
        seen["reply"] = channel["Reply-Text"]
        seen["uuid"] = session.channel_uuid
        seen["dtmf_var"] = session.variable("patient_dtmf")
        seen["caller"] = session.get("Caller-Caller-ID-Name")
        seen["socket_host"] = session.variables["socket_host"]
        await session.myevents()
        await session.linger()
        seen["no_wait"] = await session.execute(
            "playback", "/srv/calls/media/goodbye_8k.wav", wait=False, event_uuid=PLAYBACK_ID
        )
        # The playback's CHANNEL_EXECUTE_COMPLETE comes first: execute must wait for its own.
        done = await session.execute(
            "play_and_get_digits", DIGITS_ARG, event_uuid=DIGITS_ID, timeout=2
        )
        seen["done"] = (done.get("Application"), done.get("Application-UUID"))
        played = await session.wait_execute(PLAYBACK_ID, timeout=0.1)
        seen["played"] = played.get("Application-Response")
        digits = [await session.next_event("DTMF", timeout=1) for _ in range(2)]
        seen["digits"] = [event.get("DTMF-Digit") for event in digits]
        seen["choice"] = await session.api(f"uuid_getvar {session.channel_uuid} ivr_choice")
        await session.hangup()
        seen["rest"] = [event.name async for event in session.events()]
        seen["hung_up"] = session.hung_up
        seen["notice"] = session.disconnect_notice.headers.get("Content-Disposition")
        with pytest.raises(SessionHungUp):
            await session.next_event("DTMF", timeout=1)
        with pytest.raises(SessionHungUp):
            await session.execute("playback", "/x.wav")
        await session.hangup()  # a no-op once the call is gone
        return seen

    seen, received = run(session_with(SESSION_09, ivr))
    names = [e.name for e in events_in([d for direction, d in SESSION_09 if direction == "S->C"])]
    second_dtmf = [i for i, name in enumerate(names) if name == "DTMF"][1]
    assert seen == {
        "reply": "+OK\n",
        "uuid": CHANNEL,
        "dtmf_var": "3#",
        "caller": "Outbound Call",
        "socket_host": "127.0.0.1",
        "no_wait": None,
        "done": ("play_and_get_digits", DIGITS_ID),
        "played": "FILE PLAYED",
        "digits": ["3", "#"],
        "choice": "3",
        "rest": names[second_dtmf + 1 :],
        "hung_up": True,
        "notice": "linger",
    }
    assert seen["rest"][-1] == "CHANNEL_HANGUP_COMPLETE"
    # Every command went out exactly as the real client wrote it.
    assert len(received) == sum(1 for direction, _ in SESSION_09 if direction == "C->S")
    assert all(ours == theirs for ours, theirs in received)


def outbound_raw_sessions():
    for path in raw_files():
        script = raw_session(path)
        if script[0] == ("C->S", b"connect\n\n"):
            yield pytest.param(script, id=path.stem)


@pytest.mark.parametrize("script", list(outbound_raw_sessions()))
def test_every_event_of_a_raw_outbound_session_reaches_the_session(script):
    async def replay(session: OutboundSession) -> tuple[list[wire.Event], str | None]:
        await session.connect()
        for data in [d for direction, d in script if direction == "C->S"][1:]:
            await session.request(data)
        return [event async for event in session.events()], session.channel_uuid

    (events, channel_uuid), received = run(session_with(script, replay))
    assert events == events_in([d for direction, d in script if direction == "S->C"])
    assert channel_uuid and all(e.uuid == channel_uuid for e in events)
    assert all(ours == theirs for ours, theirs in received)


NOTICE = SESSION_09[-1][1]
OK = b"Content-Type: command/reply\nReply-Text: +OK\n\n"


def test_hangup_while_an_execute_waits_raises_session_hung_up():
    script = [*SESSION_09[:2], ("C->S", b""), ("S->C", OK + NOTICE)]

    async def handler(session: OutboundSession) -> str:
        await session.connect()
        with pytest.raises(SessionHungUp):
            await session.execute("playback", "/srv/calls/media/goodbye_8k.wav", timeout=2)
        return "raised"

    outcome, _ = run(session_with(script, handler))
    assert outcome == "raised"


def _execute_answer_refused(reply_text: bytes):
    err = b"Content-Type: command/reply\nReply-Text: " + reply_text + b"\n\n"
    script = [*SESSION_09[:2], ("C->S", b""), ("S->C", err)]

    async def handler(session: OutboundSession):
        await session.connect()
        try:
            await session.execute("answer")
        except EslError as exc:
            return exc, session.hung_up
        return None, session.hung_up

    return run(session_with(script, handler))


def test_execute_err_reply_raises_esl_error():
    (error, _hung_up), received = _execute_answer_refused(b"-ERR no such application [x]")
    assert type(error) is EslError and error.reply == "-ERR no such application [x]"
    line = received[1][0]
    assert line.startswith(b"sendmsg\ncall-command: execute\nexecute-app-name: answer\n")
    assert b"execute-app-arg" not in line and b"event-lock: true\nEvent-UUID: " in line


def test_execute_on_a_channel_already_gone_is_a_hang_up():
    """FreeSWITCH answers -ERR invalid session id when the channel went before its hangup
    event reached us: the IVR must treat it as the patient hanging up, not as a failure."""
    (error, hung_up), _ = _execute_answer_refused(b"-ERR invalid session id [x]")
    assert isinstance(error, SessionHungUp) and "channel is gone" in str(error)
    assert hung_up


def test_a_failing_handler_is_logged_and_the_socket_closed(caplog):
    async def handler(session: OutboundSession) -> None:
        await session.connect()
        raise RuntimeError("ivr bug")

    async def main():
        server = await serve("127.0.0.1", 0, handler)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await reader.readuntil(b"\n\n") == b"connect\n\n"
        writer.write(SESSION_09[1][1])
        assert await reader.read() == b""  # closed by us
        writer.close()
        server.close()
        await server.wait_closed()

    with caplog.at_level(logging.INFO):
        run(main())
    assert "handler failed" in caplog.text and "ivr bug" in caplog.text
