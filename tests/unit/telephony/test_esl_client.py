"""The inbound ESL client against a fake FreeSWITCH on a real TCP socket, fed captured bytes."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from callcenter.telephony import wire
from callcenter.telephony.esl import (
    DEFAULT_EVENTS,
    EslClient,
    EslConfig,
    EslError,
    EslNotConnected,
    EslPool,
    event_command,
    messages_from,
)
from tests.wire_captures import _RAW_CHUNK, annotated_files, raw_files, raw_stream, segments

TEST_TIMEOUT = 10.0


def run(coro: Awaitable) -> object:
    """asyncio.run with a hard deadline, so a hung test fails instead of hanging the suite."""

    async def bounded():
        async with asyncio.timeout(TEST_TIMEOUT):
            return await coro

    return asyncio.run(bounded())


async def until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


def captured(needle: bytes) -> bytes:
    """The exact bytes of the first captured FreeSWITCH message containing ``needle``."""
    for path in annotated_files():
        for direction, data in segments(path):
            if direction == "S->C" and needle in data:
                return data
    for path in raw_files():
        for chunk in raw_stream(path):
            if needle in chunk and len(wire.StreamParser().feed(chunk)) == 1:
                return chunk
    raise LookupError(needle)


AUTH_REQUEST = captured(b"auth/request")
AUTH_OK = captured(b"Reply-Text: +OK accepted")
AUTH_BAD = captured(b"Reply-Text: -ERR invalid")
DISCONNECT = captured(b"Disconnected, goodbye.")
EVENTS_OK = captured(b"+OK event listener enabled plain")
API_STATUS = captured(b"UP 0 years")
API_NO_SUCH = captured(b"-ERR no_such_cmd")
API_JSON = captured(b'{"row_count": 0}')
API_SUCCESS = captured(b"\n\n+OK Success\n")
ORIGINATE_UUID = "6a5804ce-ada5-4363-8f39-c9fad4296a8a"
JOB_OK = "fc20d107-5a16-45b8-aab0-0ee1d02d55fe"  # its BACKGROUND_JOB: +OK <ORIGINATE_UUID>
JOB_BUSY = "16b91171-8cf6-451e-92db-d21d234e8b02"  # its BACKGROUND_JOB: -ERR USER_BUSY
BGAPI_REPLY_OK = captured(f"+OK Job-UUID: {JOB_OK}".encode())
BGAPI_REPLY_BUSY = captured(f"+OK Job-UUID: {JOB_BUSY}".encode())
BG_JOB_OK = captured(f"Job-UUID: {JOB_OK}\nJob-Command: originate".encode())
BG_JOB_BUSY = captured(f"Job-UUID: {JOB_BUSY}\nJob-Command: originate".encode())
CHANNEL_CREATE = captured(b"Event-Name: CHANNEL_CREATE")
CHANNEL_ANSWER = captured(b"Event-Name: CHANNEL_ANSWER")
HANGUP_COMPLETE = captured(b"Event-Name: CHANNEL_HANGUP_COMPLETE")
ORIGINATE = f"originate {{origination_uuid={ORIGINATE_UUID}}}loopback/followup_patient &park()"

Responder = Callable[["FakeFreeSwitch", asyncio.StreamWriter, str, wire.Headers], Awaitable[None]]


class FakeFreeSwitch:
    """Speaks first, checks the password, acknowledges event/filter; ``respond`` does the rest."""

    def __init__(self, respond: Responder | None = None):
        self.respond = respond
        self.commands: list[tuple[int, str, wire.Headers]] = []  # (connection number, line, ...)
        self.writers: list[asyncio.StreamWriter] = []
        self.client_closed = 0

    @property
    def connections(self) -> int:
        return len(self.writers)

    def lines(self, prefix: str = "") -> list[tuple[int, str]]:
        return [(conn, line) for conn, line, _ in self.commands if line.startswith(prefix)]

    async def __aenter__(self) -> FakeFreeSwitch:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info) -> None:
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()

    def config(self, **overrides) -> EslConfig:
        settings = {"port": self.port, "backoff_initial": 0.01, "backoff_max": 0.05}
        return EslConfig(**{**settings, "command_timeout": 2.0, **overrides})

    def push(self, data: bytes) -> None:
        """Unsolicited bytes on the newest connection (events, notices)."""
        self.writers[-1].write(data)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        conn = len(self.writers)
        writer.write(AUTH_REQUEST)
        parser = wire.CommandParser()
        try:
            while data := await reader.read(65536):
                for line, headers, _body in parser.feed(data):
                    self.commands.append((conn, line, headers))
                    await self._answer(writer, line, headers)
            self.client_closed += 1
        except ConnectionError:
            self.client_closed += 1
        finally:
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, line: str, headers: wire.Headers):
        word, _, rest = line.partition(" ")
        if line == "auth ClueCon":
            writer.write(AUTH_OK)
        elif word == "auth":  # what FreeSWITCH does on a wrong password
            writer.write(AUTH_BAD + DISCONNECT)
            writer.close()
        elif word == "event":
            writer.write(EVENTS_OK)
        elif word == "filter":  # no capture of it; the reply FreeSWITCH 1.10 writes
            header, _, value = rest.partition(" ")
            text = f"+OK filter added. [{header}]=[{value}]"
            writer.write(wire.frame([("Content-Type", "command/reply"), ("Reply-Text", text)]))
        elif self.respond is not None:
            await self.respond(self, writer, line, headers)
        else:
            raise AssertionError(f"unexpected command {line!r}")


class Recorder:
    def __init__(self, handler: Callable[[wire.Event], Awaitable[None]] | None = None):
        self.events: list[wire.Event] = []
        self.handler = handler

    async def __call__(self, event: wire.Event) -> None:
        self.events.append(event)
        if self.handler is not None:
            await self.handler(event)

    @property
    def names(self) -> list[str]:
        return [event.name for event in self.events]


def event_of(data: bytes) -> wire.Event:
    (message,) = wire.StreamParser().feed(data)
    return message.event()


async def api_responder(fake, writer, line, headers) -> None:
    replies = {
        "api status": API_STATUS,
        "api no_such_cmd": API_NO_SUCH,
        "api show channels as json": API_JSON,
    }
    writer.write(replies[line])


# --- connecting ----------------------------------------------------------------------------


def test_auth_subscribe_and_on_connect():
    async def main():
        connects = []

        async def on_connect(client):
            connects.append(client.connected)  # not yet: reconciliation comes first
            assert json.loads(await client.api("show channels as json")) == {"row_count": 0}

        async with FakeFreeSwitch(api_responder) as fake:
            client = EslClient(fake.config(), on_connect=on_connect)
            await client.start()
            await client.wait_connected(2)
            assert client.connected and connects == [False]
            assert fake.lines() == [
                (1, "auth ClueCon"),
                (1, "event plain " + " ".join(DEFAULT_EVENTS)),
                (1, "api show channels as json"),
            ]
            await client.stop()
            assert not client.connected
            with pytest.raises(EslNotConnected):
                await client.api("status")

    run(main())


def test_bad_password_is_logged_and_retried_with_growing_delays(caplog):
    async def main():
        async with FakeFreeSwitch() as fake:
            client = EslClient(fake.config(password="WRONG", backoff_initial=0.05, backoff_max=1))
            await client.start()
            with pytest.raises(TimeoutError):
                await client.wait_connected(0.6)
            await client.stop()
            assert not client.connected
            # It retried, but with backoff: a spinning client would have made hundreds.
            assert 2 <= fake.connections <= 15
            assert all(line == "auth WRONG" for _, line in fake.lines())

    run(main())
    assert "refused our password" in caplog.text


def test_backoff_is_jittered_exponential_and_capped():
    client = EslClient(EslConfig(backoff_initial=0.5, backoff_max=30))
    delays = [client._backoff() for _ in range(40)]
    assert all(0 <= d <= min(30, 0.5 * 2**i) for i, d in enumerate(delays))
    assert max(delays[10:]) > 1  # it grows...
    assert len(set(delays)) == len(delays)  # ...with jitter


def test_command_while_disconnected_fails_at_once():
    async def main():
        client = EslClient(EslConfig(port=1))
        with pytest.raises(EslNotConnected):
            await client.api("status")
        with pytest.raises(EslNotConnected):
            await client.bgapi("status")

    run(main())


# --- commands and replies ------------------------------------------------------------------


def test_api_returns_the_body_and_raises_on_err():
    async def main():
        async with FakeFreeSwitch(api_responder) as fake:
            client = EslClient(fake.config())
            await client.start()
            await client.wait_connected(2)
            status = await client.api("status")
            assert status.startswith("UP 0 years") and "1000 session(s) max" in status
            with pytest.raises(EslError) as info:
                await client.api("no_such_cmd")
            assert info.value.reply == "-ERR no_such_cmd Command not found!"
            assert json.loads(await client.api("show channels as json")) == {"row_count": 0}
            await client.stop()

    run(main())


def test_bgapi_sends_our_job_uuid_and_gets_the_background_job_result():
    async def respond(fake, writer, line, headers):
        job = headers["Job-UUID"]
        if job == JOB_OK:
            writer.write(BGAPI_REPLY_OK)
            await asyncio.sleep(0.05)  # the result comes later, as the call is answered
            writer.write(BG_JOB_OK)
        else:  # no capture for a random uuid: FreeSWITCH's reply shape around it
            text = f"+OK Job-UUID: {job}"
            reply = [("Content-Type", "command/reply"), ("Reply-Text", text), ("Job-UUID", job)]
            writer.write(wire.frame(reply))

    async def main():
        async with FakeFreeSwitch(respond) as fake:
            client = EslClient(fake.config())
            await client.start()
            await client.wait_connected(2)
            job = await client.bgapi(ORIGINATE, job_uuid=JOB_OK)
            assert job == JOB_OK
            assert await client.bgapi_result(job, timeout=2) == f"+OK {ORIGINATE_UUID}\n"
            assert await client.bgapi_result(job, timeout=0) == f"+OK {ORIGINATE_UUID}\n"
            own = await client.bgapi("status")
            assert uuid.UUID(own) and fake.commands[-1][2]["Job-UUID"] == own
            assert fake.commands[-2][1] == f"bgapi {ORIGINATE}"
            with pytest.raises(TimeoutError):
                await client.bgapi_result(own, timeout=0.05)
            await client.stop()

    run(main())


def test_background_job_arriving_before_bgapi_result_is_kept():
    async def respond(fake, writer, line, headers):
        writer.write(BGAPI_REPLY_BUSY + BG_JOB_BUSY)

    async def main():
        recorder = Recorder()
        async with FakeFreeSwitch(respond) as fake:
            client = EslClient(fake.config(), on_event=recorder)
            await client.start()
            await client.wait_connected(2)
            job = await client.bgapi("originate loopback/patient_busy &park()", JOB_BUSY)
            await until(lambda: recorder.names == ["BACKGROUND_JOB"])
            assert await client.bgapi_result(job, timeout=0.5) == "-ERR USER_BUSY\n"
            await client.stop()

    run(main())


def test_events_between_a_command_and_its_reply():
    """CHANNEL_ANSWER comes before the BACKGROUND_JOB and before the api reply (README)."""

    async def respond(fake, writer, line, headers):
        if line.startswith("bgapi"):
            writer.write(CHANNEL_CREATE + BGAPI_REPLY_OK)
        else:
            writer.write(CHANNEL_ANSWER)
            await asyncio.sleep(0.02)
            writer.write(API_SUCCESS + BG_JOB_OK)

    async def main():
        recorder = Recorder()
        async with FakeFreeSwitch(respond) as fake:
            client = EslClient(fake.config(), on_event=recorder)
            await client.start()
            await client.wait_connected(2)
            job = await client.bgapi(ORIGINATE, job_uuid=JOB_OK)
            reply = await client.api(f"uuid_record {ORIGINATE_UUID} start /tmp/a.wav")
            assert reply == "+OK Success\n"
            assert await client.bgapi_result(job, timeout=2) == f"+OK {ORIGINATE_UUID}\n"
            await until(lambda: len(recorder.events) == 3)
            assert recorder.names == ["CHANNEL_CREATE", "CHANNEL_ANSWER", "BACKGROUND_JOB"]
            assert recorder.events[1].uuid == ORIGINATE_UUID
            await client.stop()

    run(main())


def test_a_slow_handler_blocks_neither_reading_nor_replies():
    release = asyncio.Event()

    async def slow(event):
        if event.name == "CHANNEL_CREATE":
            await release.wait()

    async def respond(fake, writer, line, headers):
        writer.write(CHANNEL_CREATE + CHANNEL_ANSWER + HANGUP_COMPLETE + API_STATUS)

    async def main():
        recorder = Recorder(slow)
        async with FakeFreeSwitch(respond) as fake:
            client = EslClient(fake.config(), on_event=recorder)
            await client.start()
            await client.wait_connected(2)
            assert (await client.api("status")).startswith("UP")
            assert (await client.api("status")).startswith("UP")  # the handler is still stuck
            assert recorder.names == ["CHANNEL_CREATE"]
            release.set()
            await until(lambda: len(recorder.events) == 6)
            once = ["CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE"]
            assert recorder.names == once * 2
            await client.stop()

    run(main())


def test_a_failing_handler_is_logged_and_the_next_event_still_delivered(caplog):
    async def handler(event):
        if event.name == "CHANNEL_CREATE":
            raise RuntimeError("handler bug")

    async def main():
        recorder = Recorder(handler)
        async with FakeFreeSwitch() as fake:
            client = EslClient(fake.config(), on_event=recorder)
            await client.start()
            await client.wait_connected(2)
            fake.push(CHANNEL_CREATE + CHANNEL_ANSWER)
            await until(lambda: len(recorder.events) == 2)
            await client.stop()

    run(main())
    assert "on_event failed on CHANNEL_CREATE" in caplog.text and "handler bug" in caplog.text


def test_a_plain_function_can_be_the_handler():
    async def main():
        names = []
        async with FakeFreeSwitch() as fake:
            client = EslClient(fake.config(), on_event=lambda event: names.append(event.name))
            await client.start()
            await client.wait_connected(2)
            fake.push(CHANNEL_ANSWER)
            await until(lambda: names == ["CHANNEL_ANSWER"])
            await client.stop()

    run(main())


def test_hangup_complete_keeps_both_hangup_causes():
    async def main():
        recorder = Recorder()
        async with FakeFreeSwitch() as fake:
            client = EslClient(fake.config(), on_event=recorder)
            await client.start()
            await client.wait_connected(2)
            fake.push(HANGUP_COMPLETE)
            await until(lambda: len(recorder.events) == 1)
            event = recorder.events[0]
            assert event.headers.get_all("Hangup-Cause") == ["NORMAL_CLEARING"] * 2
            assert event.variable("hangup_cause_q850") == "16"
            await client.stop()

    run(main())


def test_garbage_is_logged_with_its_bytes_and_skipped_without_reconnecting(caplog):
    bad_json = b"Content-Type: text/event-json\nContent-Length: 9\n\nnot json!"

    async def main():
        recorder = Recorder()
        async with FakeFreeSwitch(api_responder) as fake:
            client = EslClient(fake.config(), on_event=recorder)
            await client.start()
            await client.wait_connected(2)
            # One write: the events before and after the garbage must both survive.
            fake.push(CHANNEL_ANSWER + b"this is not a header\n\n" + bad_json + HANGUP_COMPLETE)
            assert (await client.api("status")).startswith("UP")
            await until(lambda: len(recorder.events) == 2)
            assert recorder.names == ["CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE"]
            assert fake.connections == 1 and client.connected
            await client.stop()

    run(main())
    assert "b'this is not a header" in caplog.text
    assert "not json!" in caplog.text


def test_parser_keeps_the_messages_around_a_bad_block(caplog):
    parser = wire.StreamParser()
    data = CHANNEL_ANSWER + b"no colon here\n\n" + b"Content-Length: -1\n\n" + API_STATUS
    messages = messages_from(parser, data[:-5], "test") + messages_from(parser, data[-5:], "test")
    assert [m.content_type for m in messages] == [wire.EVENT_PLAIN, wire.API_RESPONSE]
    assert "no colon here" in caplog.text and "Content-Length: -1" in caplog.text


def test_custom_subclasses_go_after_core_events():
    names = ["CUSTOM", "sofia::register", "CHANNEL_ANSWER", "callcenter::info", "DTMF"]
    expected = "event plain CHANNEL_ANSWER DTMF CUSTOM sofia::register callcenter::info"
    assert event_command(names) == expected
    assert event_command(["CHANNEL_ANSWER", "CUSTOM"]) == "event plain CHANNEL_ANSWER"

    async def main():
        async with FakeFreeSwitch() as fake:
            client = EslClient(fake.config(events=("CHANNEL_ANSWER",)))
            await client.start()
            await client.wait_connected(2)
            await client.subscribe(names)
            assert fake.lines("event")[-1] == (1, expected)
            await client.stop()

    run(main())


# --- losing the link -------------------------------------------------------------------------


def test_reconnects_resubscribes_reapplies_filters_and_calls_on_connect_again():
    async def main():
        connects = []

        async def on_connect(client):
            connects.append(await client.api("show channels as json"))

        async with FakeFreeSwitch(api_responder) as fake:
            client = EslClient(fake.config(), on_connect=on_connect)
            await client.start()
            await client.wait_connected(2)
            await client.filter("Unique-ID", ORIGINATE_UUID)
            fake.writers[0].close()  # FreeSWITCH restarts
            await until(lambda: len(connects) == 2 and client.connected)
            subscribe = "event plain " + " ".join(DEFAULT_EVENTS)
            assert fake.lines("event") == [(1, subscribe), (2, subscribe)]
            line = f"filter Unique-ID {ORIGINATE_UUID}"
            assert fake.lines("filter") == [(1, line), (2, line)]
            assert client._attempt == 0  # reset by the successful auth
            assert (await client.api("status")).startswith("UP")
            await client.stop()

    run(main())


def test_disconnect_notice_closes_and_reconnects():
    async def main():
        async with FakeFreeSwitch() as fake:
            client = EslClient(fake.config())
            await client.start()
            await client.wait_connected(2)
            fake.push(DISCONNECT)
            await until(lambda: fake.connections == 2 and client.connected)
            assert fake.client_closed >= 1  # we hung up on the old link ourselves
            await client.stop()

    run(main())


def test_pending_command_fails_when_the_link_drops():
    async def respond(fake, writer, line, headers):
        writer.close()  # dies before answering

    async def main():
        async with FakeFreeSwitch(respond) as fake:
            client = EslClient(fake.config())
            await client.start()
            await client.wait_connected(2)
            with pytest.raises(EslNotConnected):
                await client.api("status")
            await client.wait_connected(2)  # and it comes back
            await client.stop()

    run(main())


def test_heartbeat_watchdog_drops_a_silent_link():
    async def main():
        async with FakeFreeSwitch() as fake:
            client = EslClient(fake.config(heartbeat_timeout=0.3))
            await client.start()
            await client.wait_connected(2)
            started = time.monotonic()
            for _ in range(5):  # any bytes keep the link alive (HEARTBEAT every 20 s in life)
                await asyncio.sleep(0.1)
                fake.push(CHANNEL_ANSWER)
            assert fake.connections == 1
            await until(lambda: fake.connections == 2)  # then silence: dead link
            assert time.monotonic() - started >= 0.5 + 0.25
            await until(lambda: client.connected)
            assert fake.client_closed == 1
            await client.stop()

    run(main())


# --- several nodes ---------------------------------------------------------------------------


def test_pool_talks_to_each_node_by_name():
    async def status(fake, writer, line, headers):
        writer.write(API_STATUS)

    async def as_json(fake, writer, line, headers):
        writer.write(API_JSON)

    async def main():
        seen: dict[str, list[str]] = {"fs1": [], "fs2": []}
        async with FakeFreeSwitch(status) as one, FakeFreeSwitch(as_json) as two:
            pool = EslPool(
                EslClient(fake.config(name=name), on_event=lambda e, n=name: seen[n].append(e.name))
                for name, fake in (("fs1", one), ("fs2", two))
            )
            assert [client.name for client in pool] == ["fs1", "fs2"] and len(pool) == 2
            await pool.start()
            await pool.wait_connected(2)
            assert (await pool["fs1"].api("status")).startswith("UP")
            assert json.loads(await pool["fs2"].api("status")) == {"row_count": 0}
            two.push(CHANNEL_ANSWER)
            await until(lambda: seen["fs2"] == ["CHANNEL_ANSWER"])
            assert seen["fs1"] == []
            await pool.stop()
            assert not any(client.connected for client in pool)
        with pytest.raises(ValueError):
            EslPool([EslClient(EslConfig()), EslClient(EslConfig())])
        with pytest.raises(KeyError):
            pool["fs3"]

    run(main())


# --- every captured event ----------------------------------------------------------------------


def raw_session(path: Path) -> list[tuple[str, bytes]]:
    """("SENT"|"RECV", bytes) for each TCP write/read of a raw capture, in order."""
    data = path.read_bytes()
    out = []
    for match in _RAW_CHUNK.finditer(data):
        start = match.end()
        out.append((match.group(1).decode()[4:], data[start : start + int(match.group(2))]))
    return out


def events_in(chunks: list[bytes]) -> list[wire.Event]:
    parser = wire.StreamParser()
    messages = [m for chunk in chunks for m in parser.feed(chunk)]
    return [m.event() for m in messages if m.content_type in (wire.EVENT_PLAIN, wire.EVENT_JSON)]


def inbound_sessions():
    for path in raw_files():
        script = raw_session(path)
        if not script[0][1].startswith(b"Content-Type: auth/request"):
            continue  # outbound-socket captures: see test_outbound.py
        # Up to the client's `exit` (auth_api.txt then tries a wrong password).
        end = next((i for i, (d, b) in enumerate(script) if d == "SENT" and b == b"exit\n\n"), None)
        script = script[:end]
        if events_in([data for direction, data in script if direction == "RECV"]):
            yield pytest.param(script, id=path.stem)


class Replay:
    """A fake FreeSWITCH that answers each command with the captured reads that followed it."""

    def __init__(self, script: list[tuple[str, bytes]]):
        self.script = script
        self.received: list[tuple[bytes, bytes]] = []  # (what we sent, what the capture sent)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buffer = b""
        try:
            for direction, data in self.script:
                if direction == "RECV":
                    writer.write(data)
                    await writer.drain()
                    continue
                while b"\n\n" not in buffer:
                    more = await reader.read(65536)
                    if not more:
                        return
                    buffer += more
                ours, _, buffer = buffer.partition(b"\n\n")
                self.received.append((ours + b"\n\n", data))
            await reader.read()  # stay up until the client leaves
        finally:
            writer.close()


@pytest.mark.parametrize("script", list(inbound_sessions()))
def test_every_event_of_a_raw_session_reaches_on_event_in_order(script):
    expected = events_in([data for direction, data in script if direction == "RECV"])
    sent = [data for direction, data in script if direction == "SENT"]

    async def main():
        recorder = Recorder()
        replay = Replay(script)
        server = await asyncio.start_server(replay.serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = EslClient(EslConfig(port=port, command_timeout=2), on_event=recorder)
        await client.start()
        await client.wait_connected(2)
        for data in sent[2:]:  # after our own auth and subscription, the capture's commands
            await client.request(data)
        await until(lambda: len(recorder.events) >= len(expected))
        await client.stop()
        server.close()
        await server.wait_closed()
        return recorder, replay, client

    recorder, replay, client = run(main())
    assert recorder.events == expected
    assert replay.received[0] == (b"auth ClueCon\n\n", sent[0])
    assert all(ours == theirs for ours, theirs in replay.received[2:])
    jobs = {e.get("Job-UUID"): e.body for e in expected if e.name == "BACKGROUND_JOB"}
    assert all(client._jobs[job] == body for job, body in jobs.items())


def annotated_event_files():
    for path in annotated_files():
        data = [d for direction, d in segments(path) if direction == "S->C"]
        if events_in(data):
            yield pytest.param(path, id=path.stem)


@pytest.mark.parametrize("path", list(annotated_event_files()))
def test_every_annotated_event_reaches_on_event(path):
    pieces = [data for direction, data in segments(path) if direction == "S->C"]
    pieces = [data for data in pieces if events_in([data])]
    expected = events_in(pieces)

    async def main():
        recorder = Recorder()
        async with FakeFreeSwitch() as fake:
            client = EslClient(fake.config(), on_event=recorder)
            await client.start()
            await client.wait_connected(2)
            for data in pieces:
                fake.push(data)
            await until(lambda: len(recorder.events) >= len(expected))
            await client.stop()
        return recorder

    assert run(main()).events == expected
