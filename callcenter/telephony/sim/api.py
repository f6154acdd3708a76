"""``api`` / ``bgapi`` commands, answering with FreeSWITCH 1.10's texts (see the captures)."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import wire
from .apps import header
from .calls import DTMF_GAP, Q850
from .channel import SimChannel
from .events import Clock, EventFactory, Headers, channel_data, new_uuid, stamp

log = logging.getLogger(__name__)

VERSION = "1.10.12-release~64bit"
CAUSES = set(Q850) | {
    "NONE",
    "MANAGER_REQUEST",
    "ORIGINATOR_CANCEL",
    "LOSE_RACE",
    "ALLOTTED_TIMEOUT",
    "USER_CHALLENGE",
    "MEDIA_TIMEOUT",
    "PICKED_OFF",
    "USER_NOT_REGISTERED",
    "PROGRESS_TIMEOUT",
    "GATEWAY_DOWN",
    "INVALID_GATEWAY",
    "CALL_AWARDED_DELIVERED",
    "EXCHANGE_ROUTING_ERROR",
    "FACILITY_REJECTED",
    "BEARERCAPABILITY_NOTAVAIL",
    "ATTENDED_TRANSFER",
    "BLIND_TRANSFER",
}
SHOW_COLUMNS = (
    "uuid",
    "direction",
    "created",
    "created_epoch",
    "name",
    "state",
    "cid_name",
    "cid_num",
    "ip_addr",
    "dest",
    "application",
    "application_data",
    "dialplan",
    "context",
    "read_codec",
    "read_rate",
    "read_bit_rate",
    "write_codec",
    "write_rate",
    "write_bit_rate",
    "secure",
    "hostname",
    "presence_id",
    "presence_data",
    "accountcode",
    "callstate",
    "callee_name",
    "callee_num",
    "callee_direction",
    "call_uuid",
    "sent_callee_name",
    "sent_callee_num",
    "initial_cid_name",
    "initial_cid_num",
    "initial_ip_addr",
    "initial_dest",
    "initial_dialplan",
    "initial_context",
)

API: dict[str, Callable[..., Any]] = {}


def command(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        API[name] = func
        return func

    return register


def cause_name(text: str, default: str = "NORMAL_CLEARING") -> str:
    text = text.strip().upper()
    if not text:
        return default
    if text.isdigit():
        for name, number in Q850.items():
            if number == int(text):
                return name
        return default
    return text if text in CAUSES else default


class ApiCommands:
    clock: Clock
    factory: EventFactory
    _channels: dict[str, SimChannel]
    _started: float
    _session_seq: int
    _peak: int

    if TYPE_CHECKING:

        def emit_channel(self, name: str, ch: SimChannel, **kw: Any) -> None: ...
        def hangup(self, ch: SimChannel, cause: str = ...) -> None: ...
        def bridge(self, a: SimChannel, b: SimChannel) -> None: ...
        def start_recording(self, ch: SimChannel, path: str, **kw: Any) -> Any: ...
        def stop_recording(self, ch: SimChannel, rec: Any, completion: str) -> None: ...
        def receive_dtmf(self, ch: SimChannel, digit: str, source: str = ...) -> None: ...
        def queue_app(self, ch: SimChannel, name: str, arg: str, app_uuid: str) -> None: ...
        async def originate(self, arg: str) -> str: ...
        async def run_inner_app(self, ch: SimChannel, name: str, arg: str) -> None: ...

    async def api(self, line: str) -> str:
        """Run one api command; returns the response body."""
        name, _, arg = line.strip().partition(" ")
        func = API.get(name.lower())
        if func is None:
            return f"-ERR {name} Command not found!\n"
        try:
            result = func(self, arg.strip())
            if inspect.isawaitable(result):
                result = await result
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("api %r failed", line)
            return f"-ERR {name} failed\n"
        return str(result)

    def sendmsg(self, ch: SimChannel, headers: wire.Headers, body: bytes) -> str:
        """``sendmsg``: execute (queued to the channel) or hangup; returns the Reply-Text."""
        call_command = header(headers, "call-command").lower()
        if call_command == "execute":
            app = header(headers, "execute-app-name")
            arg = header(headers, "execute-app-arg")
            if body and not arg:
                arg = body.decode("utf-8", "replace").strip()
            if not app:
                return "-ERR invalid application"
            app_uuid = header(headers, "Event-UUID") or new_uuid()
            try:
                loops = max(1, int(header(headers, "loops", "1")))
            except ValueError:
                loops = 1
            for _ in range(loops):
                self.queue_app(ch, app, arg, app_uuid)
            return "+OK"
        if call_command == "hangup":
            self.hangup(ch, cause_name(header(headers, "hangup-cause")))
            return "+OK"
        if call_command in ("unicast", "nomedia", "xferext", "signal_data"):
            return "+OK"
        return "-ERR invalid command"

    def uptime_text(self) -> str:
        us = int((self.clock.now() - self._started) * 1_000_000)
        seconds, micro = divmod(us, 1_000_000)
        minutes, secs = divmod(seconds, 60)
        hours, mins = divmod(minutes, 60)
        days, hrs = divmod(hours, 24)
        years, days = divmod(days, 365)
        return (
            f"{years} years, {days} days, {hrs} hours, {mins} minutes, {secs} seconds, "
            f"{micro // 1000} milliseconds, {micro % 1000} microseconds"
        )

    def heartbeat_headers(self) -> Headers:
        headers = self.factory.base("HEARTBEAT")
        up_ms = int((self.clock.now() - self._started) * 1000)
        live = len(self._channels)
        headers += [
            ("Event-Info", "System Ready"),
            ("Up-Time", self.uptime_text()),
            ("FreeSWITCH-Version", VERSION),
            ("Uptime-msec", str(up_ms)),
            ("Session-Count", str(live)),
            ("Max-Sessions", "1000"),
            ("Session-Per-Sec", "30"),
            ("Session-Per-Sec-Last", "0"),
            ("Session-Per-Sec-Max", "0"),
            ("Session-Per-Sec-FiveMin", "0"),
            ("Session-Since-Startup", str(self._session_seq)),
            ("Session-Peak-Max", str(self._peak)),
            ("Session-Peak-FiveMin", str(self._peak)),
            ("Idle-CPU", "98.000000"),
        ]
        return headers

    def channel_row(self, ch: SimChannel) -> dict[str, str]:
        p = ch.profile
        codec, rate, bit_rate = ch.codec or ("", 0, 0)
        app = ch.exec_stack[-1] if ch.exec_stack else None
        return {
            "uuid": ch.uuid,
            "direction": p.direction,
            "created": stamp(ch.created_us),
            "created_epoch": str(ch.created_us // 1_000_000),
            "name": ch.name,
            "state": ch.state,
            "cid_name": p.caller_id_name,
            "cid_num": p.caller_id_number,
            "ip_addr": p.network_addr or "",
            "dest": p.destination_number,
            "application": app[0] if app else "",
            "application_data": app[1] if app else "",
            "dialplan": p.dialplan or "",
            "context": p.context,
            "read_codec": codec,
            "read_rate": str(rate or ""),
            "read_bit_rate": str(bit_rate or ""),
            "write_codec": codec,
            "write_rate": str(rate or ""),
            "write_bit_rate": str(bit_rate or ""),
            "secure": "",
            "hostname": self.factory.hostname,
            "presence_id": "",
            "presence_data": "",
            "accountcode": "",
            "callstate": {"DOWN": "DOWN", "RINGING": "RINGING"}.get(ch.call_state, ch.call_state),
            "callee_name": p.callee_id_name,
            "callee_num": p.callee_id_number,
            "callee_direction": "",
            "call_uuid": ch.get_var("call_uuid") or ch.uuid,
            "sent_callee_name": "",
            "sent_callee_num": "",
            "initial_cid_name": p.orig_caller_id_name,
            "initial_cid_num": p.orig_caller_id_number,
            "initial_ip_addr": p.network_addr or "",
            "initial_dest": p.destination_number,
            "initial_dialplan": p.dialplan or "",
            "initial_context": p.context,
        }


def _split(arg: str, count: int) -> list[str]:
    return arg.split(None, count - 1) if arg else []


@command("status")
def _status(sim: ApiCommands, arg: str) -> str:
    live = len(sim._channels)
    return (
        f"UP {sim.uptime_text()}\n"
        f"FreeSWITCH (Version 1.10.12-release  64bit) is ready\n"
        f"{sim._session_seq} session(s) since startup\n"
        f"{live} session(s) - peak {sim._peak}, last 5min {sim._peak} \n"
        f"0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n"
        f"1000 session(s) max\n"
        f"min idle cpu 0.00/98.27\n"
        f"Current Stack Size/Max 240K/8192K\n"
    )


@command("version")
def _version(sim: ApiCommands, arg: str) -> str:
    return f"FreeSWITCH Version {VERSION} ( 64bit)\n"


@command("hostname")
def _hostname(sim: ApiCommands, arg: str) -> str:
    return sim.factory.hostname


@command("reloadxml")
def _reloadxml(sim: ApiCommands, arg: str) -> str:
    return "+OK [Success]\n"


@command("originate")
async def _originate(sim: ApiCommands, arg: str) -> str:
    return await sim.originate(arg)


@command("show")
def _show(sim: ApiCommands, arg: str) -> str:
    words = arg.split()
    if not words or words[0].lower() not in ("channels", "calls"):
        return "-USAGE: channels [count|like <match string>]|calls [count]\n"
    fmt = None
    if "as" in words[1:]:
        index = words.index("as")
        fmt = words[index + 1].lower() if index + 1 < len(words) else None
    channels = sorted(sim._channels.values(), key=lambda c: c.created_us)
    if words[0].lower() == "calls":
        channels = [c for c in channels if (c.get_var("call_uuid") or c.uuid) == c.uuid]
    if len(words) > 2 and words[1].lower() == "like":
        needle = words[2].strip("%")
        channels = [
            c
            for c in channels
            if needle in c.uuid or needle in c.name or needle in c.profile.caller_id_number
        ]
    if len(words) > 1 and words[1].lower() == "count":
        return f"\n{len(channels)} total.\n"
    rows = [sim.channel_row(c) for c in channels]
    if fmt == "json":
        if not rows:
            return '{"row_count": 0}\n'
        return json.dumps({"row_count": len(rows), "rows": rows}, separators=(",", ":"))
    if fmt not in (None, "delim", "csv"):
        return f"-ERR Cannot find format {fmt}\n"
    if not rows:
        return "\n0 total.\n"
    lines = [",".join(SHOW_COLUMNS)]
    lines += [",".join(row[column] for column in SHOW_COLUMNS) for row in rows]
    return "\n".join(lines) + f"\n\n{len(rows)} total.\n"


@command("uuid_kill")
def _uuid_kill(sim: ApiCommands, arg: str) -> str:
    words = _split(arg, 2)
    if not words:
        return "-USAGE: <uuid> [cause]\n"
    ch = sim._channels.get(words[0])
    if ch is None:
        return "-ERR No such channel!\n"
    if ch.endpoint == "sofia":
        ch.set_var("sip_hangup_disposition", "send_bye" if ch.answered_us else "send_cancel")
    sim.hangup(ch, cause_name(words[1] if len(words) > 1 else ""))
    return "+OK\n"


@command("hupall")
def _hupall(sim: ApiCommands, arg: str) -> str:
    words = arg.split()
    cause = cause_name(words[0] if words else "", "MANAGER_REQUEST")
    var = words[1] if len(words) > 1 else None
    value = words[2] if len(words) > 2 else None
    for ch in list(sim._channels.values()):
        if ch.hungup or (var is not None and ch.get_var(var) != value):
            continue
        sim.hangup(ch, cause)
    if var is not None:
        return f"+OK hangup all channels matching [{var}]=[{value}] with cause: {cause}\n"
    return f"+OK hangup all channels with cause {cause}\n"


@command("uuid_bridge")
def _uuid_bridge(sim: ApiCommands, arg: str) -> str:
    words = arg.split()
    if len(words) < 2:
        return "-USAGE: <uuid> <other_uuid>\n"
    a = sim._channels.get(words[0])
    for other in words[1:3]:
        b = sim._channels.get(other)
        if a is None or b is None or a is b:
            continue
        if a.originating or b.originating or not a.answered_us or not b.answered_us:
            continue
        sim.bridge(a, b)
        return f"+OK {b.uuid}\n"
    return "-ERR Invalid uuid\n"


@command("uuid_record")
def _uuid_record(sim: ApiCommands, arg: str) -> str:
    usage = "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n"
    words = arg.split()
    if len(words) < 3:
        return usage
    ch = sim._channels.get(words[0])
    if ch is None:
        return "-ERR Cannot locate session!\n"
    action, path = words[1].lower(), words[2]
    if action == "start":
        rec = sim.start_recording(ch, path)
        if len(words) > 3 and words[3].isdigit() and int(words[3]) > 0:
            ch.spawn(_stop_after(sim, ch, rec, int(words[3])))
        return "+OK Success\n"
    if action == "stop":
        recs = [r for r in ch.recordings if path == "all" or r.path == path]
        if not recs:
            return "-ERR Cannot stop record session!\n"
        for rec in recs:
            sim.stop_recording(ch, rec, "success-maxtime")
        return "+OK Success\n"
    if action in ("mask", "unmask"):
        return "+OK Success\n"
    return usage


async def _stop_after(sim: ApiCommands, ch: SimChannel, rec: Any, seconds: int) -> None:
    await sim.clock.sleep(seconds)
    if rec in ch.recordings and not ch.hungup:
        sim.stop_recording(ch, rec, "success-maxtime")


@command("uuid_broadcast")
def _uuid_broadcast(sim: ApiCommands, arg: str) -> str:
    words = arg.split(None, 2)
    if len(words) < 2:
        return "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n"
    ch = sim._channels.get(words[0])
    if ch is None:
        return "-ERR No such channel!\n"
    rest = words[1] if len(words) == 2 else f"{words[1]} {words[2]}"
    legs = "aleg"
    path = rest
    tail = rest.rsplit(None, 1)
    if len(tail) == 2 and tail[1].lower() in ("aleg", "bleg", "both", "holdb"):
        path, legs = tail[0], tail[1].lower()
    targets = []
    if legs in ("aleg", "both", "holdb"):
        targets.append(ch)
    if legs in ("bleg", "both") and ch.partner is not None:
        targets.append(ch.partner)
    app, sep, app_arg = path.partition("::")
    for target in targets:
        if sep:
            target.spawn(sim.run_inner_app(target, app, app_arg))
        else:
            target.spawn(sim.run_inner_app(target, "playback", path))
    return "+OK Message sent\n"


@command("uuid_getvar")
def _uuid_getvar(sim: ApiCommands, arg: str) -> str:
    words = arg.split()
    if len(words) < 2:
        return "-USAGE: <uuid> <var>\n"
    ch = sim._channels.get(words[0])
    if ch is None:
        return "-ERR No such channel!\n"
    value = ch.get_var(words[1])
    return "_undef_" if value is None else value


@command("uuid_setvar")
def _uuid_setvar(sim: ApiCommands, arg: str) -> str:
    words = arg.split(None, 2)
    if len(words) < 2:
        return "-USAGE: <uuid> <var> [value]\n"
    ch = sim._channels.get(words[0])
    if ch is None:
        return "-ERR No such channel!\n"
    ch.set_var(words[1], words[2] if len(words) > 2 else None)
    return "+OK\n"


@command("uuid_exists")
def _uuid_exists(sim: ApiCommands, arg: str) -> str:
    return "true" if arg.strip() in sim._channels else "false"


@command("uuid_dump")
def _uuid_dump(sim: ApiCommands, arg: str) -> str:
    words = arg.split()
    ch = sim._channels.get(words[0]) if words else None
    if ch is None:
        return "-ERR No such channel!\n"
    headers = sim.factory.base("CHANNEL_DATA") + channel_data(ch)
    return "".join(f"{k}: {wire.encode_value(v)}\n" for k, v in headers)


@command("uuid_send_dtmf")
def _uuid_send_dtmf(sim: ApiCommands, arg: str) -> str:
    words = arg.split()
    if len(words) < 2:
        return "-USAGE: <uuid> <dtmf_data>\n"
    ch = sim._channels.get(words[0])
    if ch is None:
        return "-ERR Cannot locate session!\n"
    digits = words[1].split("@", 1)[0]
    if ch.peer is not None:
        ch.spawn(_dtmf(sim, ch.peer, digits))
    return f"+OK {ch.uuid} sent DTMF {digits}.\n"


@command("uuid_recv_dtmf")
def _uuid_recv_dtmf(sim: ApiCommands, arg: str) -> str:
    words = arg.split()
    if len(words) < 2:
        return "-USAGE: <uuid> <dtmf_data>\n"
    ch = sim._channels.get(words[0])
    if ch is None:
        return "-ERR Cannot locate session!\n"
    digits = words[1].split("@", 1)[0]
    ch.spawn(_dtmf(sim, ch, digits))
    return f"+OK {ch.uuid} received DTMF {digits}.\n"


async def _dtmf(sim: ApiCommands, ch: SimChannel, digits: str) -> None:
    for index, digit in enumerate(digits):
        if index:
            await sim.clock.sleep(DTMF_GAP)
        if ch.hungup:
            return
        sim.receive_dtmf(ch, digit)
