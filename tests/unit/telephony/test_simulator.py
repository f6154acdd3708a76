"""The softswitch simulator against a raw event-socket client (wire.StreamParser / wire.command).

Its messages are compared with the captures of a real FreeSWITCH (tests/data/freeswitch-wire):
same framing, same replies, same event header names in the same order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sys
import uuid as uuid_lib
import wave
from array import array
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from callcenter.telephony import wire
from callcenter.telephony.sim.script import ScriptBook, load_scripts
from callcenter.telephony.simulator import PatientScript, Simulator
from tests.wire_captures import CAPTURES, segments

SCALE = 0.05  # 1 simulated second = 50 ms
RECORDINGS = CAPTURES / "recordings"
SPEECH_8K = RECORDINGS / "mono_8k_followup.wav"
SPEECH_16K = RECORDINGS / "mono_16k_short.wav"
SPEECH_STEREO = RECORDINGS / "stereo_8k_followup.wav"
TIMEOUT = 10.0


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


class Client:
    """A minimal event-socket client: replies in order, events collected as they come."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.parser = wire.StreamParser()
        self.replies: asyncio.Queue[wire.Message] = asyncio.Queue()
        self.events: list[tuple[wire.Event, wire.Message]] = []
        self.eof = asyncio.Event()
        self._arrived = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, port: int, password: str | None = "ClueCon") -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer)
        hello = await client.reply()
        assert hello.content_type == wire.AUTH_REQUEST
        if password is not None:
            assert (await client.command(f"auth {password}")).reply_text == "+OK accepted"
        return client

    async def _read(self) -> None:
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                for message in self.parser.feed(data):
                    if message.content_type in (wire.EVENT_PLAIN, wire.EVENT_JSON):
                        self.events.append((message.event(), message))
                        self._arrived.set()
                    else:
                        self.replies.put_nowait(message)
        finally:
            self.eof.set()
            self._arrived.set()

    def send(self, line: str, headers: list[tuple[str, str]] | None = None) -> None:
        self.writer.write(wire.command(line, headers or []))

    async def reply(self, timeout: float = TIMEOUT) -> wire.Message:
        return await asyncio.wait_for(self.replies.get(), timeout)

    async def command(self, line: str, headers: list[tuple[str, str]] | None = None):
        self.send(line, headers)
        return await self.reply()

    async def api(self, line: str) -> str:
        message = await self.command(f"api {line}")
        assert message.content_type == wire.API_RESPONSE
        return message.text

    async def bgapi(self, line: str) -> str:
        message = await self.command(f"bgapi {line}")
        assert message.reply_text.startswith("+OK Job-UUID: ")
        return message.headers["Job-UUID"]

    async def event(
        self, match: Callable[[wire.Event], bool], timeout: float = TIMEOUT
    ) -> wire.Event:
        return (await self.event_message(match, timeout))[0]

    async def event_message(
        self, match: Callable[[wire.Event], bool], timeout: float = TIMEOUT
    ) -> tuple[wire.Event, wire.Message]:
        async def find() -> tuple[wire.Event, wire.Message]:
            while True:
                for item in self.events:
                    if match(item[0]):
                        return item
                if self.eof.is_set():
                    raise AssertionError("connection closed before the event came")
                self._arrived.clear()
                await self._arrived.wait()

        return await asyncio.wait_for(find(), timeout)

    def names(self, uuid: str) -> list[str]:
        return [e.name for e, _ in self.events if e.uuid == uuid]

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def named(name: str, uuid: str | None = None) -> Callable[[wire.Event], bool]:
    return lambda e: e.name == name and (uuid is None or e.uuid == uuid)


def job(job_uuid: str) -> Callable[[wire.Event], bool]:
    return lambda e: e.name == "BACKGROUND_JOB" and e.get("Job-UUID") == job_uuid


async def started(**kwargs: Any) -> tuple[Simulator, Client]:
    kwargs.setdefault("time_scale", SCALE)
    sim = Simulator(**kwargs)
    port = await sim.start()
    client = await Client.connect(port)
    assert (await client.command("event plain ALL")).reply_text == (
        "+OK event listener enabled plain"
    )
    return sim, client


async def finish(sim: Simulator, *clients: Client) -> None:
    for client in clients:
        await client.close()
    await sim.stop()


def new_uuid() -> str:
    return str(uuid_lib.uuid4())


def rms(samples: array) -> float:
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))


# --- auth ---------------------------------------------------------------------------------------


def test_auth_good_and_bad_password():
    async def scenario():
        sim = Simulator(time_scale=SCALE)
        port = await sim.start()
        good = await Client.connect(port)
        assert (await good.api("version")).startswith("FreeSWITCH Version 1.10")

        bad = await Client.connect(port, password=None)
        reply = await bad.command("auth WRONG")
        assert reply.content_type == wire.COMMAND_REPLY
        assert reply.reply_text == "-ERR invalid"
        notice = await bad.reply()
        assert notice.content_type == wire.DISCONNECT_NOTICE
        assert (
            notice.text == "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
        )
        await asyncio.wait_for(bad.eof.wait(), TIMEOUT)
        await finish(sim, good, bad)

    run(scenario())


def test_auth_request_bytes_match_the_capture():
    async def scenario():
        sim = Simulator(time_scale=SCALE)
        port = await sim.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        first = await asyncio.wait_for(reader.readuntil(b"\n\n"), TIMEOUT)
        captured = segments(CAPTURES / "01_auth_exchange.txt")[0][1]
        assert first == captured
        writer.write(b"auth ClueCon\n\n")
        accepted = await asyncio.wait_for(reader.readuntil(b"\n\n"), TIMEOUT)
        assert accepted == segments(CAPTURES / "01_auth_exchange.txt")[2][1]
        writer.close()
        await writer.wait_closed()
        await sim.stop()

    run(scenario())


# --- originate ----------------------------------------------------------------------------------


def test_answered_originate_events_in_captured_order_with_custom_vars(tmp_path):
    async def scenario():
        sim, client = await started(
            scripts={"5550100": PatientScript(ring_seconds=0.3, hangup_after=2.0)}
        )
        a = new_uuid()
        path = tmp_path / "rec" / f"{a}.wav"
        job_uuid = await client.bgapi(
            "originate {ignore_early_media=true,origination_caller_id_number=5551234,"
            "origination_caller_id_name=Clinic,campaign_id=42,patient_dtmf=1,RECORD_STEREO=true,"
            f"execute_on_answer='record_session {path}',origination_uuid={a}}}"
            "loopback/5550100 &park()"
        )
        done = await client.event(named("CHANNEL_HANGUP_COMPLETE", a))
        names = client.names(a)
        order = [
            "CHANNEL_CREATE",
            "CHANNEL_ANSWER",
            "RECORD_START",
            "CHANNEL_HANGUP",
            "RECORD_STOP",
            "CHANNEL_HANGUP_COMPLETE",
        ]
        assert [n for n in names if n in order] == order

        sequence = [e for e, _ in client.events]
        answer = next(i for i, e in enumerate(sequence) if named("CHANNEL_ANSWER", a)(e))
        background = next(i for i, e in enumerate(sequence) if job(job_uuid)(e))
        assert answer < background
        assert sequence[background].body == f"+OK {a}\n"
        assert sequence[background].get("Job-Command") == "originate"

        created = await client.event(named("CHANNEL_CREATE", a))
        assert created.get("Channel-Name") == "loopback/5550100-a"
        assert created.get("Caller-Caller-ID-Name") == "Clinic"
        for event in (created, done, await client.event(named("CHANNEL_ANSWER", a))):
            assert event.variable("campaign_id") == "42"
            assert event.variable("patient_dtmf") == "1"
        assert done.headers.get_all("Hangup-Cause") == ["NORMAL_CLEARING", "NORMAL_CLEARING"]
        assert done.variable("hangup_cause") == "NORMAL_CLEARING"
        assert done.variable("hangup_cause_q850") == "16"
        assert int(done.variable("billsec")) >= 1
        assert done.get("Caller-Orig-Caller-ID-Number") == "5551234"
        stop = await client.event(named("RECORD_STOP", a))
        assert stop.get("Record-File-Path") == str(path)
        assert path.exists()
        # the loopback B-leg exists too, and goes first when the patient hangs up
        b = created.variable("other_loopback_leg_uuid")
        assert client.names(b)[0] == "CHANNEL_CREATE"
        assert "CHANNEL_HANGUP_COMPLETE" in client.names(b)
        assert sim.channels == {}
        await finish(sim, client)

    run(scenario())


@pytest.mark.parametrize(
    ("outcome", "dial", "cause", "q850"),
    [
        ("busy", "loopback/5550111", "USER_BUSY", "17"),
        ("reject", "loopback/5550111", "CALL_REJECTED", "21"),
        ("invalid", "loopback/5550111", "NO_ROUTE_DESTINATION", "3"),
        ("invalid", "sofia/gateway/carrier/5550111", "UNALLOCATED_NUMBER", "1"),
        ("no_answer", "loopback/5550111", "NO_ANSWER", "19"),
        ("busy", "sofia/gateway/carrier/+15550111", "USER_BUSY", "17"),
    ],
)
def test_failed_originate_reports_the_cause(outcome, dial, cause, q850):
    async def scenario():
        sim, client = await started(
            scripts={"5550111": PatientScript(outcome=outcome, ring_seconds=0.5)}
        )
        a = new_uuid()
        job_uuid = await client.bgapi(f"originate {{origination_uuid={a}}}{dial} &park()")
        result = await client.event(job(job_uuid))
        assert result.body == f"-ERR {cause}\n"
        done = await client.event(named("CHANNEL_HANGUP_COMPLETE", a))
        assert done.headers.get_all("Hangup-Cause") == [cause, cause]
        assert done.variable("hangup_cause") == cause
        assert done.variable("hangup_cause_q850") == q850
        assert done.variable("billsec") == "0"
        assert done.get("Answer-State") == "hangup"
        names = client.names(a)
        assert names[0] == "CHANNEL_CREATE"
        assert "CHANNEL_ANSWER" not in names
        await asyncio.sleep(0.05)
        assert sim.channels == {}
        await finish(sim, client)

    run(scenario())


def test_api_originate_answers_after_the_call_is_decided():
    async def scenario():
        sim, client = await started(
            scripts={
                "5550111": PatientScript(outcome="busy"),
                "5550122": PatientScript(hangup_after=1.0),
            }
        )
        assert await client.api("originate loopback/5550111 &park()") == "-ERR USER_BUSY\n"
        assert await client.api("originate error/user_busy &park()") == "-ERR USER_BUSY\n"
        assert await client.api("originate nosuchtech/foo &park()") == (
            "-ERR CHAN_NOT_IMPLEMENTED\n"
        )
        a = new_uuid()
        assert await client.api(f"originate {{origination_uuid={a}}}loopback/5550122 &park()") == (
            f"+OK {a}\n"
        )
        await client.event(named("CHANNEL_HANGUP_COMPLETE", a))
        await finish(sim, client)

    run(scenario())


def test_originate_timeout_shorter_than_ringing_gives_no_answer():
    async def scenario():
        sim, client = await started(default_script=PatientScript(ring_seconds=20))
        job_uuid = await client.bgapi("originate {originate_timeout=2}loopback/5550999 &park()")
        assert (await client.event(job(job_uuid))).body == "-ERR NO_ANSWER\n"
        await finish(sim, client)

    run(scenario())


# --- recording ----------------------------------------------------------------------------------


@pytest.mark.parametrize("speech", [SPEECH_8K, SPEECH_16K, SPEECH_STEREO], ids=lambda p: p.stem)
def test_stereo_recording_has_the_patient_on_the_left(tmp_path, speech):
    async def scenario():
        sim, client = await started(
            scripts={"+8613800138000": PatientScript(speech_wav=str(speech), hangup_after=2.0)}
        )
        a = new_uuid()
        path = tmp_path / "deep" / "folder" / "call.wav"
        await client.bgapi(
            f"originate {{origination_uuid={a},RECORD_STEREO=true,"
            f"execute_on_answer=record_session::{path}}}sofia/gateway/carrier/13800138000 &park()"
        )
        stop = await client.event(named("RECORD_STOP", a))
        assert stop.get("Record-File-Path") == str(path)
        with wave.open(str(path), "rb") as wav:
            assert wav.getnchannels() == 2
            assert wav.getsampwidth() == 2
            assert wav.getframerate() == 8000
            frames = wav.getnframes()
            data = array("h", wav.readframes(frames))
        assert stop.variable("record_samples") == str(frames)
        assert stop.variable("record_file_size") == str(path.stat().st_size)
        assert 1.9 <= frames / 8000 <= 2.6  # answer to hangup, in simulated seconds
        left, right = rms(data[0::2]), rms(data[1::2])
        assert left > 300, left
        assert right < 20, right
        await client.event(named("CHANNEL_HANGUP_COMPLETE", a))
        await finish(sim, client)

    run(scenario())


def test_recording_lasts_at_least_the_speech_when_the_call_does(tmp_path):
    async def scenario():
        sim, client = await started(
            scripts={"5550100": PatientScript(speech_wav=str(SPEECH_16K), hangup_after=1.5)}
        )
        a = new_uuid()
        path = tmp_path / "short.wav"
        await client.bgapi(
            f"originate {{origination_uuid={a},RECORD_STEREO=true,"
            f"execute_on_answer='record_session {path}'}}loopback/5550100 &park()"
        )
        await client.event(named("CHANNEL_HANGUP_COMPLETE", a))
        with wave.open(str(path), "rb") as wav:
            assert wav.getnframes() >= 12000  # the 1.5 s of speech
        await finish(sim, client)

    run(scenario())


def test_uuid_record_start_stop_writes_mono(tmp_path):
    async def scenario():
        sim, client = await started(
            scripts={"5550100": PatientScript(speech_wav=str(SPEECH_8K), hangup_after=10)}
        )
        a = new_uuid()
        job_uuid = await client.bgapi(f"originate {{origination_uuid={a}}}loopback/5550100 &park()")
        await client.event(job(job_uuid))
        path = tmp_path / "mono.wav"
        assert await client.api(f"uuid_record {a} start {path}") == "+OK Success\n"
        start = await client.event(named("RECORD_START", a))
        assert start.get("Record-File-Path") == str(path)
        await asyncio.sleep(1.0 * SCALE)
        assert await client.api(f"uuid_record {a} stop {path}") == "+OK Success\n"
        stop = await client.event(named("RECORD_STOP", a))
        assert stop.get("Record-Completion-Cause") == "success-maxtime"
        assert "Hangup-Cause" not in stop.headers
        with wave.open(str(path), "rb") as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
        assert await client.api(f"uuid_record {a} stop {path}") == (
            "-ERR Cannot stop record session!\n"
        )
        assert await client.api(f"uuid_record {new_uuid()} start {path}") == (
            "-ERR Cannot locate session!\n"
        )
        await client.api(f"uuid_kill {a}")
        await finish(sim, client)

    run(scenario())


# --- bridge, DTMF, hupall, show channels ----------------------------------------------------------


def test_uuid_bridge_to_an_agent_and_kill_ends_both_legs():
    async def scenario():
        sim, client = await started(scripts={"5550100": PatientScript(hangup_after=None)})
        a, agent = new_uuid(), new_uuid()
        patient_job = await client.bgapi(
            f"originate {{origination_uuid={a}}}loopback/5550100 &park()"
        )
        agent_job = await client.bgapi(f"originate {{origination_uuid={agent}}}user/1001 &park()")
        assert (await client.event(job(patient_job))).body == f"+OK {a}\n"
        assert (await client.event(job(agent_job))).body == f"+OK {agent}\n"
        agent_answer = await client.event(named("CHANNEL_ANSWER", agent))
        assert agent_answer.get("Channel-Name").startswith("sofia/internal/1001@")

        assert await client.api(f"uuid_bridge {a} {agent}") == f"+OK {agent}\n"
        bridged = await client.event(named("CHANNEL_BRIDGE", a))
        assert bridged.get("Bridge-A-Unique-ID") == a
        assert bridged.get("Bridge-B-Unique-ID") == agent
        assert bridged.get("Other-Leg-Unique-ID") == agent
        assert await client.api(f"uuid_getvar {a} bridge_uuid") == agent

        assert await client.api(f"uuid_kill {a}") == "+OK\n"
        ended_a = await client.event(named("CHANNEL_HANGUP_COMPLETE", a))
        ended_agent = await client.event(named("CHANNEL_HANGUP_COMPLETE", agent))
        assert ended_a.get("Hangup-Cause") == "NORMAL_CLEARING"
        assert ended_agent.get("Other-Type") == "originator"
        await asyncio.sleep(0.05)
        assert sim.channels == {}
        assert await client.api(f"uuid_bridge {a} {agent}") == "-ERR Invalid uuid\n"
        await finish(sim, client)

    run(scenario())


def test_bridge_app_calls_the_agent():
    async def scenario():
        sim, client = await started(scripts={"5550100": PatientScript(hangup_after=3)})
        a = new_uuid()
        await client.bgapi(f"originate {{origination_uuid={a}}}loopback/5550100 &bridge(user/1002)")
        bridged = await client.event(named("CHANNEL_BRIDGE", a))
        agent = bridged.get("Bridge-B-Unique-ID")
        assert sim.channels[agent].name.startswith("sofia/internal/1002@")
        await client.event(named("CHANNEL_HANGUP_COMPLETE", agent))
        await finish(sim, client)

    run(scenario())


def test_scripted_dtmf_arrives_on_the_a_leg():
    async def scenario():
        sim, client = await started(
            scripts={"5550100": PatientScript(dtmf=[(0.5, "42#")], hangup_after=3)}
        )
        a = new_uuid()
        await client.bgapi(f"originate {{origination_uuid={a}}}loopback/5550100 &park()")
        await client.event(lambda e: e.name == "DTMF" and e.get("DTMF-Digit") == "#")
        digits = [(e, m) for e, m in client.events if e.name == "DTMF"]
        assert [e.get("DTMF-Digit") for e, _ in digits] == ["4", "2", "#"]
        assert all(e.uuid == a for e, _ in digits)
        assert b"\nDTMF-Digit: %23\n" in digits[-1][1].body
        done = await client.event(named("CHANNEL_HANGUP_COMPLETE", a))
        assert done.variable("digits_dialed") == "42#"
        await finish(sim, client)

    run(scenario())


def test_hupall_filtered_then_everything():
    async def scenario():
        sim, client = await started(default_script=PatientScript(hangup_after=None))
        calls = {new_uuid(): "1", new_uuid(): "1", new_uuid(): "2"}
        for a, campaign in calls.items():
            job_uuid = await client.bgapi(
                f"originate {{campaign_id={campaign},origination_uuid={a}}}loopback/5550100 &park()"
            )
            await client.event(job(job_uuid))
        assert await client.api("show channels count") == "\n6 total.\n"
        assert await client.api("hupall MANAGER_REQUEST campaign_id 1") == (
            "+OK hangup all channels matching [campaign_id]=[1] with cause: MANAGER_REQUEST\n"
        )
        for a, campaign in calls.items():
            if campaign == "1":
                done = await client.event(named("CHANNEL_HANGUP_COMPLETE", a))
                assert done.get("Hangup-Cause") == "MANAGER_REQUEST"
        last = next(a for a, campaign in calls.items() if campaign == "2")
        assert await client.api(f"uuid_exists {last}") == "true"
        assert await client.api("hupall") == "+OK hangup all channels with cause MANAGER_REQUEST\n"
        await client.event(named("CHANNEL_HANGUP_COMPLETE", last))
        assert sim.channels == {}
        assert await client.api(f"uuid_exists {last}") == "false"
        await finish(sim, client)

    run(scenario())


def test_show_channels_as_json_lists_live_calls():
    async def scenario():
        sim, client = await started(default_script=PatientScript(hangup_after=None))
        assert await client.api("show channels as json") == '{"row_count": 0}\n'
        a = new_uuid()
        job_uuid = await client.bgapi(
            f"originate {{origination_uuid={a},origination_caller_id_number=5551234}}"
            "loopback/5550100 &park()"
        )
        await client.event(job(job_uuid))
        data = json.loads(await client.api("show channels as json"))
        assert data["row_count"] == 2 == len(data["rows"])
        row = next(r for r in data["rows"] if r["uuid"] == a)
        assert row["name"] == "loopback/5550100-a"
        assert row["dest"] == "5550100"
        assert row["callstate"] == "ACTIVE"
        assert row["state"] == "CS_EXECUTE"
        assert row["cid_num"] == "5550100"  # flipped after answer, as FreeSWITCH does
        assert row["initial_cid_num"] == "5551234"
        assert abs(int(row["created_epoch"]) - sim.clock.now()) < 60
        await client.api(f"uuid_kill {a}")
        await finish(sim, client)

    run(scenario())


# --- outbound socket ----------------------------------------------------------------------------


def test_outbound_socket_session_runs_playback_and_play_and_get_digits():
    async def scenario():
        done = asyncio.get_running_loop().create_future()
        seen: dict[str, Any] = {}

        async def app(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            session = Client(reader, writer)
            try:
                session.send("connect")
                connect = wire.connect_reply(await session.reply())
                seen["connect"] = connect
                assert (await session.command("myevents")).reply_text == "+OK Events Enabled"
                assert (await session.command("linger")).reply_text == "+OK will linger"
                play_uuid, digits_uuid = new_uuid(), new_uuid()
                reply = await session.command(
                    "sendmsg",
                    [
                        ("call-command", "execute"),
                        ("execute-app-name", "playback"),
                        ("execute-app-arg", str(SPEECH_16K)),
                        ("event-lock", "true"),
                        ("Event-UUID", play_uuid),
                    ],
                )
                assert reply.reply_text == "+OK"
                reply = await session.command(
                    "sendmsg",
                    [
                        ("call-command", "execute"),
                        ("execute-app-name", "play_and_get_digits"),
                        (
                            "execute-app-arg",
                            f"1 4 1 5000 # {SPEECH_16K} silence_stream://250 ivr_choice \\d+",
                        ),
                        ("event-lock", "true"),
                        ("Event-UUID", digits_uuid),
                    ],
                )
                assert reply.reply_text == "+OK"
                played = await session.event(
                    lambda e: (
                        e.name == "CHANNEL_EXECUTE_COMPLETE"
                        and e.get("Application-UUID") == play_uuid
                    )
                )
                seen["played"] = played
                collected = await session.event(
                    lambda e: (
                        e.name == "CHANNEL_EXECUTE_COMPLETE"
                        and e.get("Application-UUID") == digits_uuid
                    )
                )
                seen["collected"] = collected
                seen["choice"] = await session.api(f"uuid_getvar {connect['Unique-ID']} ivr_choice")
                hangup = await session.command(
                    "sendmsg", [("call-command", "hangup"), ("hangup-cause", "NORMAL_CLEARING")]
                )
                assert hangup.reply_text == "+OK", hangup
                seen["complete"] = await session.event(named("CHANNEL_HANGUP_COMPLETE"))
                seen["notice"] = await session.reply()
                seen["names"] = [e.name for e, _ in session.events]
                await asyncio.wait_for(session.eof.wait(), TIMEOUT)
                done.set_result(True)
            except BaseException as exc:  # report to the test, not to asyncio
                if not done.done():
                    done.set_exception(exc)
            finally:
                await session.close()

        server = await asyncio.start_server(app, "127.0.0.1", 0)
        app_port = server.sockets[0].getsockname()[1]
        sim, client = await started(
            scripts={"5550100": PatientScript(dtmf=[(2.0, "3#")], hangup_after=20)}
        )
        a = new_uuid()
        job_uuid = await client.bgapi(
            f"originate {{origination_uuid={a}}}loopback/5550100 "
            f"'&socket(127.0.0.1:{app_port} async full)'"
        )
        assert (await client.event(job(job_uuid))).body == f"+OK {a}\n"
        await asyncio.wait_for(done, TIMEOUT)

        connect = seen["connect"]
        assert connect["Content-Type"] == "command/reply"
        assert connect["Reply-Text"] == "+OK\n"
        assert connect["Event-Name"] == "CHANNEL_DATA"
        assert connect["Unique-ID"] == a
        assert connect["Channel-Unique-ID"] == a
        assert (connect["Socket-Mode"], connect["Control"]) == ("async", "full")
        assert connect["variable_socket_host"] == "127.0.0.1"
        assert seen["played"].get("Application") == "playback"
        assert seen["played"].get("Application-Response") == "FILE PLAYED"
        assert seen["collected"].get("Application") == "play_and_get_digits"
        assert seen["collected"].variable("ivr_choice") == "3"
        assert seen["collected"].variable("read_result") == "success"
        assert seen["choice"] == "3"
        assert seen["complete"].uuid == a
        names = seen["names"]
        assert names.index("CHANNEL_PARK") < names.index("CHANNEL_EXECUTE")
        assert names.index("DTMF") < names.index("CHANNEL_HANGUP_COMPLETE")
        notice = seen["notice"]
        assert notice.content_type == wire.DISCONNECT_NOTICE
        assert notice.headers["Content-Disposition"] == "linger"
        assert notice.headers["Controlled-Session-UUID"] == a
        # header names and order as FreeSWITCH's outbound session (capture 09)
        capture = [
            m
            for direction, data in segments(CAPTURES / "09_outbound_socket_session.txt")
            if direction == "S->C"
            for m in wire.StreamParser().feed(data)
        ]
        theirs_connect = wire.connect_reply(
            next(m for m in capture if m.headers.get("Event-Name") == "CHANNEL_DATA")
        )
        assert header_names_of(connect) == header_names_of(theirs_connect)
        theirs_digits = next(
            m.event()
            for m in capture
            if m.content_type == wire.EVENT_PLAIN
            and m.event().name == "CHANNEL_EXECUTE_COMPLETE"
            and m.event().get("Application") == "play_and_get_digits"
        )
        assert header_names(seen["collected"]) == header_names(theirs_digits)
        theirs_notice = next(m for m in capture if m.content_type == wire.DISCONNECT_NOTICE)
        assert [k for k, _ in notice.headers.items] == [k for k, _ in theirs_notice.headers.items]
        # the inbound client saw the socket app end with the call
        await client.event(
            lambda e: (
                e.name == "CHANNEL_EXECUTE_COMPLETE"
                and e.uuid == a
                and e.get("Application") == "socket"
            )
        )
        server.close()
        await server.wait_closed()
        await finish(sim, client)

    run(scenario())


def test_socket_app_that_cannot_connect_hangs_up():
    async def scenario():
        sim, client = await started()
        a = new_uuid()
        await client.bgapi(
            f"originate {{origination_uuid={a}}}loopback/5550100 &socket(127.0.0.1:1)"
        )
        done = await client.event(named("CHANNEL_HANGUP_COMPLETE", a))
        assert done.get("Hangup-Cause") == "NORMAL_CLEARING"
        await finish(sim, client)

    run(scenario())


# --- errors, several clients, reconnects ---------------------------------------------------------


def test_unknown_commands_and_uuids_answer_err_and_keep_the_connection():
    async def scenario():
        sim, client = await started()
        assert await client.api("no_such_cmd") == "-ERR no_such_cmd Command not found!\n"
        unknown = "00000000-0000-0000-0000-000000000000"
        assert await client.api(f"uuid_kill {unknown}") == "-ERR No such channel!\n"
        assert await client.api(f"uuid_getvar {unknown} x") == "-ERR No such channel!\n"
        assert await client.api(f"uuid_setvar {unknown} x 1") == "-ERR No such channel!\n"
        assert await client.api(f"uuid_broadcast {unknown} /x.wav aleg") == (
            "-ERR No such channel!\n"
        )
        assert (await client.command("bogus command")).reply_text == "-ERR command not found"
        reply = await client.command(f"sendmsg {unknown}", [("call-command", "hangup")])
        assert reply.reply_text.startswith("-ERR")
        client.writer.write(b"api status\nContent-Length: nope\n\n")
        assert (await client.reply()).reply_text.startswith("-ERR")
        job_uuid = await client.bgapi("no_such_cmd")
        assert (await client.event(job(job_uuid))).body == "-ERR no_such_cmd Command not found!\n"
        status = await client.api("status")
        assert status.startswith("UP 0 years, 0 days")
        assert "FreeSWITCH (Version 1.10.12-release  64bit) is ready\n" in status
        await finish(sim, client)

    run(scenario())


def test_events_go_to_every_subscribed_client_only():
    async def scenario():
        sim, first = await started(default_script=PatientScript(hangup_after=1))
        second = await Client.connect(sim.port)
        await second.command("event json CHANNEL_HANGUP_COMPLETE")
        silent = await Client.connect(sim.port)
        a = new_uuid()
        job_uuid = await first.bgapi(f"originate {{origination_uuid={a}}}loopback/5550100 &park()")
        await first.event(job(job_uuid))
        _, message = await second.event_message(named("CHANNEL_HANGUP_COMPLETE", a))
        assert message.content_type == wire.EVENT_JSON
        assert json.loads(message.body)["Unique-ID"] == a
        await first.event(named("CHANNEL_HANGUP_COMPLETE", a))
        assert not [e for e, _ in second.events if e.name != "CHANNEL_HANGUP_COMPLETE"]
        assert silent.events == []
        await finish(sim, first, second, silent)

    run(scenario())


def test_filter_and_custom_job_uuid():
    async def scenario():
        sim, client = await started(default_script=PatientScript(hangup_after=1))
        a, other = new_uuid(), new_uuid()
        assert (await client.command(f"filter Unique-ID {a}")).reply_text == (
            f"+OK filter added. [Unique-ID]=[{a}]"
        )
        mine = new_uuid()
        reply = await client.command(
            f"bgapi originate {{origination_uuid={a}}}loopback/5550100 &park()",
            [("Job-UUID", mine)],
        )
        assert reply.reply_text == f"+OK Job-UUID: {mine}"
        await client.bgapi(f"originate {{origination_uuid={other}}}loopback/5550101 &park()")
        await client.event(named("CHANNEL_HANGUP_COMPLETE", a))
        await asyncio.sleep(1.5 * SCALE)
        assert {e.uuid for e, _ in client.events} == {a}
        await finish(sim, client)

    run(scenario())


def test_drop_clients_and_reconnect_while_calls_go_on():
    async def scenario():
        sim, client = await started(default_script=PatientScript(hangup_after=None))
        a = new_uuid()
        await client.api(f"originate {{origination_uuid={a}}}loopback/5550100 &park()")
        sim.drop_clients()
        await asyncio.wait_for(client.eof.wait(), TIMEOUT)
        again = await Client.connect(sim.port)
        rows = json.loads(await again.api("show channels as json"))["rows"]
        assert a in {row["uuid"] for row in rows}
        assert await again.api(f"uuid_kill {a}") == "+OK\n"
        await finish(sim, client, again)

    run(scenario())


def test_heartbeat_events():
    async def scenario():
        sim, client = await started(heartbeat_interval=0.05)
        beat = await client.event(named("HEARTBEAT"), timeout=2)
        assert beat.get("Event-Info") == "System Ready"
        assert beat.get("Core-UUID") == sim.factory.core_uuid
        await finish(sim, client)

    run(scenario())


def test_exit_says_goodbye():
    async def scenario():
        sim, client = await started()
        assert (await client.command("exit")).reply_text == "+OK bye"
        assert (await client.reply()).content_type == wire.DISCONNECT_NOTICE
        await asyncio.wait_for(client.eof.wait(), TIMEOUT)
        await finish(sim, client)

    run(scenario())


# --- the events look like FreeSWITCH's ------------------------------------------------------------


def captured_event(file: str, name: str, match: Callable[[wire.Event], bool]) -> wire.Event:
    for direction, data in segments(CAPTURES / file):
        if direction != "S->C":
            continue
        for message in wire.StreamParser().feed(data):
            if message.content_type == wire.EVENT_PLAIN:
                event = message.event()
                if event.name == name and match(event):
                    return event
    raise AssertionError(f"no {name} in {file}")


def header_names(event: wire.Event) -> list[str]:
    return header_names_of(event.headers)


def header_names_of(headers: wire.Headers) -> list[str]:
    return [name for name, _ in headers.items if not name.startswith("variable_")]


def test_event_header_names_and_order_match_the_captures():
    """Same headers (variable_* aside), in the same order, as the captured events."""

    async def scenario():
        sim, client = await started(
            scripts={"followup_patient": PatientScript(dtmf=[(0.5, "1")], hangup_after=3)}
        )
        a = new_uuid()
        job_uuid = await client.bgapi(
            "originate {ignore_early_media=true,origination_caller_id_number=5551234,"
            "origination_caller_id_name=Clinic,campaign_id=42,patient_dtmf=1,"
            f"origination_uuid={a}}}loopback/followup_patient &park()"
        )
        await client.event(job(job_uuid))
        assert await client.api(f"uuid_record {a} start /tmp/sim-{a}.wav") == "+OK Success\n"
        await client.event(named("CHANNEL_HANGUP_COMPLETE", a))
        ours = {
            "CHANNEL_CREATE": await client.event(named("CHANNEL_CREATE", a)),
            "CHANNEL_ANSWER": await client.event(named("CHANNEL_ANSWER", a)),
            "BACKGROUND_JOB": await client.event(job(job_uuid)),
            "DTMF": await client.event(named("DTMF", a)),
            "RECORD_START": await client.event(named("RECORD_START", a)),
            "RECORD_STOP": await client.event(named("RECORD_STOP", a)),
            "CHANNEL_HANGUP_COMPLETE": await client.event(named("CHANNEL_HANGUP_COMPLETE", a)),
        }
        Path(f"/tmp/sim-{a}.wav").unlink(missing_ok=True)
        await finish(sim, client)
        return ours

    ours = run(scenario())

    def a_leg(event: wire.Event) -> bool:
        return event.get("Channel-Name", "").endswith("-a")

    theirs = {
        "CHANNEL_CREATE": captured_event("05_channel_answer_event.txt", "CHANNEL_CREATE", a_leg),
        "CHANNEL_ANSWER": captured_event("05_channel_answer_event.txt", "CHANNEL_ANSWER", a_leg),
        "BACKGROUND_JOB": captured_event(
            "04_background_job_event.txt", "BACKGROUND_JOB", lambda e: e.body.startswith("+OK")
        ),
        "DTMF": captured_event("06_dtmf_event.txt", "DTMF", a_leg),
        "RECORD_START": captured_event("07_record_events.txt", "RECORD_START", a_leg),
        "RECORD_STOP": captured_event(
            "07_record_events.txt", "RECORD_STOP", lambda e: "Hangup-Cause" in e.headers
        ),
        "CHANNEL_HANGUP_COMPLETE": captured_event(
            "08_channel_hangup_complete_event.txt", "CHANNEL_HANGUP_COMPLETE", a_leg
        ),
    }
    for name, event in ours.items():
        assert header_names(event) == header_names(theirs[name]), name
        # the same variables are there too (values differ per call)
        theirs_vars = {k for k, _ in theirs[name].headers.items if k.startswith("variable_")}
        ours_vars = {k for k, _ in event.headers.items if k.startswith("variable_")}
        missing = theirs_vars - ours_vars - {"variable_current_application_data"}
        assert not missing, (name, sorted(missing))


@pytest.mark.parametrize(
    ("file", "skip", "uuids"),
    [
        ("02_api_response.txt", {0}, []),  # 0: api status (uptime differs)
        ("03_bgapi_reply.txt", {0}, []),  # 0: FreeSWITCH picks the Job-UUID
        ("13_hupall_and_originate_failures.txt", set(), []),
        (
            "12_playback_events_broadcast_kill.txt",
            set(),
            ["d4103bde-58ca-4d89-a34e-9a017f255fa2"],
        ),
        (
            "15_bridge_event.txt",
            set(),
            ["eb732d71-6a33-43d1-ae19-b9ace1ce8515", "2a1d34cf-869f-43f9-bac8-f89c84536c14"],
        ),
    ],
)
def test_replies_are_byte_identical_to_the_captures(file, skip, uuids):
    """Send the captured commands verbatim; the replies come back byte for byte."""

    async def scenario():
        sim = Simulator(time_scale=SCALE, default_script=PatientScript(hangup_after=None))
        port = await sim.start()
        setup = await Client.connect(port)
        for uuid in uuids:  # the calls the capture's commands refer to
            assert await setup.api(f"originate {{origination_uuid={uuid}}}loopback/x &park()") == (
                f"+OK {uuid}\n"
            )
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.wait_for(reader.readuntil(b"\n\n"), TIMEOUT)
        writer.write(b"auth ClueCon\n\n")
        await asyncio.wait_for(reader.readuntil(b"\n\n"), TIMEOUT)
        parts = segments(CAPTURES / file)
        pairs = [
            (parts[i][1], parts[i + 1][1])
            for i in range(len(parts) - 1)
            if parts[i][0] == "C->S" and parts[i + 1][0] == "S->C"
        ]
        assert pairs
        for index, (sent, expected) in enumerate(pairs):
            if index in skip:
                continue
            writer.write(sent)
            got = await asyncio.wait_for(reader.readexactly(len(expected)), TIMEOUT)
            assert got == expected, (index, sent)
        writer.close()
        await writer.wait_closed()
        await finish(sim, setup)

    run(scenario())


def test_json_events_parse_with_wire():
    async def scenario():
        sim = Simulator(time_scale=SCALE, default_script=PatientScript(hangup_after=1))
        port = await sim.start()
        client = await Client.connect(port)
        await client.command("event json CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB")
        a = new_uuid()
        job_uuid = await client.bgapi(f"originate {{origination_uuid={a}}}loopback/5550100 &park()")
        background = await client.event(job(job_uuid))
        assert background.body == f"+OK {a}\n"
        done = await client.event(named("CHANNEL_HANGUP_COMPLETE", a))
        assert done.get("Hangup-Cause") == "NORMAL_CLEARING"
        await finish(sim, client)

    run(scenario())


# --- scripts ------------------------------------------------------------------------------------


def test_scripts_match_numbers_with_or_without_country_code(tmp_path):
    file = tmp_path / "scripts.json"
    file.write_text(
        json.dumps(
            {
                "default": {"outcome": "no_answer"},
                "+8613800138000": {"outcome": "busy"},
                "5550100": {"speech_wav": "speech.wav", "dtmf": [[3.0, "1#"]]},
                "followup_patient": {"hangup_after": 5},
            }
        )
    )
    scripts, default = load_scripts(file)
    book = ScriptBook(scripts, default)
    for dialled in ("+8613800138000", "8613800138000", "008613800138000", "13800138000"):
        assert book.lookup(dialled).outcome == "busy", dialled
    assert book.lookup("+1 555-0100").speech_wav == str(tmp_path / "speech.wav")
    assert book.lookup("5550100").speech_wav == str(tmp_path / "speech.wav")
    assert book.lookup("5550100").dtmf == [(3.0, "1#")]
    assert book.lookup("followup_patient").hangup_after == 5
    assert book.lookup("13900000000").outcome == "no_answer"
    with pytest.raises(ValueError):
        PatientScript(outcome="maybe")


def test_broadcast_plays_to_the_leg_and_lands_on_the_right_channel(tmp_path):
    async def scenario():
        sim, client = await started(scripts={"5550100": PatientScript(hangup_after=2.5)})
        a = new_uuid()
        path = tmp_path / "clinic.wav"
        job_uuid = await client.bgapi(
            f"originate {{origination_uuid={a},RECORD_STEREO=true,"
            f"execute_on_answer='record_session {path}'}}loopback/5550100 &park()"
        )
        await client.event(job(job_uuid))
        assert await client.api(f"uuid_broadcast {a} {SPEECH_16K} aleg") == "+OK Message sent\n"
        start = await client.event(named("PLAYBACK_START", a))
        assert start.get("Playback-File-Path") == str(SPEECH_16K)
        stop = await client.event(named("PLAYBACK_STOP", a))
        assert stop.get("Playback-Status") == "done"
        assert stop.variable("playback_ms") == "1500"
        await client.event(named("CHANNEL_HANGUP_COMPLETE", a))
        with wave.open(str(path), "rb") as wav:
            data = array("h", wav.readframes(wav.getnframes()))
        assert rms(data[0::2]) < 20  # the patient said nothing
        assert rms(data[1::2]) > 300  # the clinic's prompt
        await finish(sim, client)

    run(scenario())


def test_command_line_runs_the_simulator(tmp_path):
    scripts = tmp_path / "scripts.json"
    scripts.write_text(json.dumps({"default": {"outcome": "busy"}}))

    async def scenario():
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "callcenter.telephony.simulator",
            "--port",
            "0",
            "--scripts",
            str(scripts),
            "--log-level",
            "WARNING",
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)
            port = int(line.decode().rsplit(":", 1)[1])
            client = await Client.connect(port)
            assert await client.api("originate loopback/5550100 &park()") == "-ERR USER_BUSY\n"
            await client.close()
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), TIMEOUT)

    run(scenario())
