"""FreeSWITCH 1.10 event headers, in the order the captures show them.

Every event: ``Event-Name``, the core block (``Core-UUID`` ... ``Event-Sequence``), then for
channel events the basic channel data, the codec block (only once the leg has media), the
``Caller-*`` profile, ``Other-Type``/``Other-Leg-*`` for bridged legs, ``variable_*``, and the
event's own headers last. Values are plain here; ``wire.encode_event_plain`` URL-encodes them.
"""

from __future__ import annotations

import asyncio
import time
import uuid as uuid_lib
from email.utils import formatdate

from .channel import CallerProfile, SimChannel

Headers = list[tuple[str, str]]

# (Event-Calling-File, Event-Calling-Function, Event-Calling-Line-Number) per event, as captured.
CALLING: dict[str, tuple[str, str, int]] = {
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", 626),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", 3846),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", 3445),
    "CHANNEL_HANGUP_COMPLETE": (
        "switch_core_state_machine.c",
        "switch_core_session_reporting_state",
        943,
    ),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", 2408),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", 2944),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", 2967),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", 1002),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", 1213),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1689),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1819),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", 677),
    "RECORD_START": ("switch_ivr_async.c", "record_callback", 1481),
    "RECORD_STOP": ("switch_ivr_async.c", "send_record_stop_event", 1240),
    "PLAYBACK_START": ("switch_ivr_play_say.c", "switch_ivr_play_file", 1646),
    "PLAYBACK_STOP": ("switch_ivr_play_say.c", "switch_ivr_play_file", 2020),
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", 1572),
    "CHANNEL_DATA": ("mod_event_socket.c", "parse_command", 2021),
    "HEARTBEAT": ("switch_core.c", "send_heartbeat", 90),
}


class Clock:
    """Simulated time: runs ``1 / time_scale`` times faster than the wall clock, from now."""

    def __init__(self, time_scale: float = 1.0):
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.scale = time_scale
        self._wall0 = time.time()
        self._mono0 = time.monotonic()

    def now(self) -> float:
        return self._wall0 + (time.monotonic() - self._mono0) / self.scale

    def now_us(self) -> int:
        return int(self.now() * 1_000_000)

    def real(self, sim_seconds: float) -> float:
        return max(0.0, sim_seconds) * self.scale

    async def sleep(self, sim_seconds: float) -> None:
        await asyncio.sleep(self.real(sim_seconds))


def new_uuid() -> str:
    return str(uuid_lib.uuid4())


def stamp(us: int) -> str:
    """``2026-11-29 16:57:45`` in local time, as ``Event-Date-Local`` and ``*_stamp``."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(us / 1_000_000))


class EventFactory:
    def __init__(self, clock: Clock, hostname: str, ipv4: str, ipv6: str):
        self.clock = clock
        self.core_uuid = new_uuid()
        self.hostname = hostname
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self._sequence = 0

    def base(self, name: str, subclass: str | None = None) -> Headers:
        us = self.clock.now_us()
        self._sequence += 1
        calling_file, function, line = CALLING.get(name, ("switch_event.c", "switch_event_fire", 1))
        headers: Headers = [("Event-Name", name)]
        if subclass:
            headers.append(("Event-Subclass", subclass))
        headers += [
            ("Core-UUID", self.core_uuid),
            ("FreeSWITCH-Hostname", self.hostname),
            ("FreeSWITCH-Switchname", self.hostname),
            ("FreeSWITCH-IPv4", self.ipv4),
            ("FreeSWITCH-IPv6", self.ipv6),
            ("Event-Date-Local", stamp(us)),
            ("Event-Date-GMT", formatdate(us / 1_000_000, usegmt=True)),
            ("Event-Date-Timestamp", str(us)),
            ("Event-Calling-File", calling_file),
            ("Event-Calling-Function", function),
            ("Event-Calling-Line-Number", str(line)),
            ("Event-Sequence", str(self._sequence)),
        ]
        return headers

    def channel_event(
        self,
        name: str,
        ch: SimChannel,
        *,
        before: Headers = (),  # type: ignore[assignment]
        after: Headers = (),  # type: ignore[assignment]
        variables: bool = True,
    ) -> Headers:
        return self.base(name) + list(before) + channel_data(ch, variables=variables) + list(after)


def channel_basic(ch: SimChannel) -> Headers:
    headers = [
        ("Channel-State", ch.state),
        ("Channel-Call-State", ch.call_state),
        ("Channel-State-Number", str(ch.state_number)),
        ("Channel-Name", ch.name),
        ("Unique-ID", ch.uuid),
        ("Call-Direction", ch.profile.direction),
        ("Presence-Call-Direction", ch.profile.direction),
        ("Channel-HIT-Dialplan", "true" if ch.hit_dialplan else "false"),
        ("Channel-Call-UUID", ch.get_var("call_uuid") or ch.uuid),
        ("Answer-State", ch.answer_state),
    ]
    if ch.answer_state == "hangup" and ch.hangup_cause:
        headers.append(("Hangup-Cause", ch.hangup_cause))
    if ch.codec is not None:
        codec, rate, bit_rate = ch.codec
        headers += [
            ("Channel-Read-Codec-Name", codec),
            ("Channel-Read-Codec-Rate", str(rate)),
            ("Channel-Read-Codec-Bit-Rate", str(bit_rate)),
            ("Channel-Write-Codec-Name", codec),
            ("Channel-Write-Codec-Rate", str(rate)),
            ("Channel-Write-Codec-Bit-Rate", str(bit_rate)),
        ]
    return headers


def profile_headers(
    p: CallerProfile,
    prefix: str,
    *,
    times: tuple[int, int, int, int] | None,
    index: bool = True,
) -> Headers:
    """``times`` = (channel created, answered, hangup, bridged) in microseconds; None: all 0."""
    created, answered, hangup, bridged = times or (0, 0, 0, 0)
    h: Headers = [(f"{prefix}-Direction", p.direction)]
    h.append((f"{prefix}-Logical-Direction", p.logical_direction))
    if p.dialplan:
        h.append((f"{prefix}-Dialplan", p.dialplan))
    if p.caller_id_name:
        h.append((f"{prefix}-Caller-ID-Name", p.caller_id_name))
    h.append((f"{prefix}-Caller-ID-Number", p.caller_id_number))
    if p.orig_caller_id_name:
        h.append((f"{prefix}-Orig-Caller-ID-Name", p.orig_caller_id_name))
    h.append((f"{prefix}-Orig-Caller-ID-Number", p.orig_caller_id_number))
    if p.callee_id_name:
        h.append((f"{prefix}-Callee-ID-Name", p.callee_id_name))
    if p.callee_id_number:
        h.append((f"{prefix}-Callee-ID-Number", p.callee_id_number))
    if p.network_addr:
        h.append((f"{prefix}-Network-Addr", p.network_addr))
    h += [
        (f"{prefix}-ANI", p.ani),
        (f"{prefix}-Destination-Number", p.destination_number),
        (f"{prefix}-Unique-ID", p.unique_id),
        (f"{prefix}-Source", p.source),
    ]
    if p.transfer_source and prefix != "Other-Leg":
        h.append((f"{prefix}-Transfer-Source", p.transfer_source))
    h += [(f"{prefix}-Context", p.context), (f"{prefix}-Channel-Name", p.channel_name)]
    if index:
        h.append((f"{prefix}-Profile-Index", str(p.index)))
    h += [
        (f"{prefix}-Profile-Created-Time", str(p.created_us if times else 0)),
        (f"{prefix}-Channel-Created-Time", str(created)),
        (f"{prefix}-Channel-Answered-Time", str(answered)),
        (f"{prefix}-Channel-Progress-Time", "0"),
        (f"{prefix}-Channel-Progress-Media-Time", "0"),
        (f"{prefix}-Channel-Hangup-Time", str(hangup)),
        (f"{prefix}-Channel-Transfer-Time", "0"),
        (f"{prefix}-Channel-Resurrect-Time", "0"),
        (f"{prefix}-Channel-Bridged-Time", str(bridged)),
        (f"{prefix}-Channel-Last-Hold", "0"),
        (f"{prefix}-Channel-Hold-Accum", "0"),
        (f"{prefix}-Screen-Bit", "true"),
        (f"{prefix}-Privacy-Hide-Name", "false"),
        (f"{prefix}-Privacy-Hide-Number", "false"),
    ]
    return h


def channel_times(ch: SimChannel) -> tuple[int, int, int, int]:
    return (ch.created_us, ch.answered_us, ch.hangup_us, ch.bridged_us)


def channel_data(ch: SimChannel, *, variables: bool = True) -> Headers:
    headers = channel_basic(ch)
    headers += profile_headers(ch.profile, "Caller", times=channel_times(ch))
    other = ch.partner
    if ch.other_type and other is not None:
        headers.append(("Other-Type", ch.other_type))
        # FreeSWITCH fills the originatee's times, and leaves the originator's at 0.
        times = channel_times(other) if ch.other_type == "originatee" else None
        headers += profile_headers(other.profile, "Other-Leg", times=times, index=False)
    if variables:
        headers += [(f"variable_{k}", v) for k, v in ch.variables.items()]
    return headers


def connect_reply_headers(
    factory: EventFactory, ch: SimChannel, mode: str, control: str
) -> Headers:
    """The outbound socket's reply to ``connect``: a CHANNEL_DATA event plus reply headers."""
    headers = factory.base("CHANNEL_DATA")
    headers += profile_headers(ch.profile, "Channel", times=channel_times(ch))
    headers += channel_data(ch)
    headers += [
        ("Content-Type", "command/reply"),
        ("Reply-Text", "+OK\n"),
        ("Socket-Mode", mode),
        ("Control", control),
    ]
    return headers
