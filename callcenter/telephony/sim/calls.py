"""Call control: originate, answer, hang up, bridge, record and DTMF, in FreeSWITCH's order.

Event order copied from the captures (loopback endpoints; a SIP gateway has no B-leg):

- answered originate: CHANNEL_CREATE A, CHANNEL_CREATE B, CHANNEL_ANSWER A, [RECORD_START A],
  CHANNEL_ANSWER B, BACKGROUND_JOB ``+OK <uuid>``, [RECORD_START B], the app (park ...), DTMF...
- busy / rejected / invalid: CREATE A, CREATE B, HANGUP_COMPLETE B, HANGUP_COMPLETE A,
  BACKGROUND_JOB ``-ERR <CAUSE>``; no answer: BACKGROUND_JOB first, then A, then B.
- hangup of a leg: CHANNEL_HANGUP, [CHANNEL_UNPARK, CHANNEL_EXECUTE_COMPLETE of the running
  apps], CHANNEL_STATE CS_HANGUP, RECORD_STOP, CHANNEL_STATE CS_REPORTING,
  CHANNEL_HANGUP_COMPLETE (``Hangup-Cause`` twice); then the other loopback leg and the bridged
  leg.
"""

from __future__ import annotations

import asyncio
import logging
import re
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import audio
from .channel import L16, PCMU, CallerProfile, Recording, SimChannel
from .events import Clock, EventFactory, Headers, new_uuid, stamp
from .script import AGENT_SCRIPT, PatientScript, ScriptBook

if TYPE_CHECKING:
    from .server import EslConnection

log = logging.getLogger(__name__)

Q850 = {
    "UNALLOCATED_NUMBER": 1,
    "NO_ROUTE_TRANSIT_NET": 2,
    "NO_ROUTE_DESTINATION": 3,
    "NORMAL_CLEARING": 16,
    "USER_BUSY": 17,
    "NO_USER_RESPONSE": 18,
    "NO_ANSWER": 19,
    "SUBSCRIBER_ABSENT": 20,
    "CALL_REJECTED": 21,
    "NUMBER_CHANGED": 22,
    "DESTINATION_OUT_OF_ORDER": 27,
    "INVALID_NUMBER_FORMAT": 28,
    "NORMAL_UNSPECIFIED": 31,
    "NORMAL_CIRCUIT_CONGESTION": 34,
    "NETWORK_OUT_OF_ORDER": 38,
    "NORMAL_TEMPORARY_FAILURE": 41,
    "SWITCH_CONGESTION": 42,
    "CHAN_NOT_IMPLEMENTED": 66,
    "INCOMPATIBLE_DESTINATION": 88,
    "RECOVERY_ON_TIMER_EXPIRE": 102,
}
# SIP final responses behind the failure causes (sip_term_status on gateway legs).
SIP_STATUS = {
    "USER_BUSY": "486",
    "CALL_REJECTED": "603",
    "UNALLOCATED_NUMBER": "404",
    "NO_ROUTE_DESTINATION": "404",
    "NO_ANSWER": "487",
    "NORMAL_CLEARING": "200",
}
FAILURES = {"busy": "USER_BUSY", "reject": "CALL_REJECTED", "no_answer": "NO_ANSWER"}
DTMF_GAP = 0.25  # simulated seconds between the digits of one scripted string
ANSWER_TO_JOB = 0.02  # FreeSWITCH reports the originate ~20 ms after the A-leg answers
TRUE = {"true", "yes", "on", "1", "t", "y"}


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in TRUE


def q850(cause: str) -> int:
    return Q850.get(cause, 16)


@dataclass
class Dial:
    """A parsed dial string."""

    endpoint: str  # loopback | sofia | agent
    number: str
    name: str  # channel name (A-leg)
    gateway: str | None = None
    domain: str | None = None
    variables: dict[str, str] = field(default_factory=dict)


def split_args(text: str) -> list[str]:
    """Split on spaces outside single quotes, ``{}``, ``[]`` and ``()``; strip outer quotes."""
    tokens: list[str] = []
    current: list[str] = []
    depth = 0
    quoted = False
    for ch in text:
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch in "{[(":
            depth += 1
        elif not quoted and ch in "}])":
            depth = max(0, depth - 1)
        elif not quoted and depth == 0 and ch.isspace():
            if current:
                tokens.append("".join(current))
                current = []
            continue
        current.append(ch)
    if current:
        tokens.append("".join(current))
    return [t[1:-1] if len(t) >= 2 and t[0] == t[-1] == "'" else t for t in tokens]


def parse_var_block(block: str) -> dict[str, str]:
    """``a=b,c='x y',d=e`` -> dict (in order); ``\\,`` escapes a comma."""
    out: dict[str, str] = {}
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    escaped = False
    for ch in block:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "'":
            quoted = not quoted
        elif ch == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    for part in parts:
        name, sep, value = part.partition("=")
        if sep and name.strip():
            out[name.strip()] = value.strip()
    return out


def take_vars(dialstring: str) -> tuple[dict[str, str], str]:
    """Leading ``{...}`` / ``[...]`` / ``<...>`` blocks of a dial string and the rest."""
    variables: dict[str, str] = {}
    rest = dialstring.strip()
    pairs = {"{": "}", "[": "]", "<": ">"}
    while rest[:1] in pairs:
        close = rest.find(pairs[rest[0]])
        if close < 0:
            break
        variables.update(parse_var_block(rest[1:close]))
        rest = rest[close + 1 :].strip()
    return variables, rest


def parse_app(token: str) -> tuple[str, str]:
    """``&bridge(user/1001)`` -> (bridge, user/1001); ``&park()`` -> (park, '')."""
    text = token[1:] if token.startswith("&") else token
    match = re.fullmatch(r"([\w:-]+)(?:\((.*)\))?", text.strip(), re.S)
    if not match:
        return text.strip(), ""
    return match.group(1), (match.group(2) or "").strip()


def split_execute(value: str) -> tuple[str, str]:
    """``record_session::/p.wav`` or ``record_session /p.wav`` -> (app, arg)."""
    value = value.strip().strip("'")
    if "::" in value.split(" ", 1)[0]:
        app, _, arg = value.partition("::")
    else:
        app, _, arg = value.partition(" ")
    return app.strip(), arg.strip()


class CallControl:
    """Mixed into ``Simulator``; the attributes below are set by its ``__init__``."""

    clock: Clock
    factory: EventFactory
    book: ScriptBook
    max_call_seconds: float
    _channels: dict[str, SimChannel]
    _speech_cache: dict[str, array]
    _session_seq: int
    _peak: int
    dialled: Counter[str]

    if TYPE_CHECKING:

        def emit(self, headers: Headers, body: str = "") -> None: ...
        async def run_top_app(self, ch: SimChannel, name: str, arg: str) -> None: ...
        async def run_inner_app(self, ch: SimChannel, name: str, arg: str) -> None: ...
        async def play(self, ch: SimChannel, path: str, **kw: Any) -> str: ...
        def session_ended(self, ch: SimChannel, conn: EslConnection, phase: str) -> None: ...

    # --- events -----------------------------------------------------------------------------

    def emit_channel(
        self,
        name: str,
        ch: SimChannel,
        *,
        before: Headers = (),  # type: ignore[assignment]
        after: Headers = (),  # type: ignore[assignment]
        variables: bool = True,
        body: str = "",
    ) -> None:
        headers = self.factory.channel_event(
            name, ch, before=before, after=after, variables=variables
        )
        self.emit(headers, body)

    # --- dial strings -----------------------------------------------------------------------

    def resolve(self, dialstring: str) -> Dial | str:
        """A Dial, or the failure cause for dial strings that never make a channel."""
        variables, target = take_vars(dialstring)
        target = re.split(r"[,|]", target, maxsplit=1)[0].strip()  # first of several targets
        tech, _, rest = target.partition("/")
        tech = tech.lower()
        if tech == "error":
            return rest.upper() or "NORMAL_CLEARING"
        if tech == "loopback" and rest:
            number = rest.split("/", 1)[0]
            return Dial("loopback", number, f"loopback/{number}-a", variables=variables)
        if tech == "sofia" and rest:
            profile, _, dest = rest.partition("/")
            if profile == "gateway":
                gateway, _, dest = dest.partition("/")
                if not gateway or not dest:
                    return "INVALID_GATEWAY"
                number = _sip_user(dest)
                return Dial(
                    "sofia",
                    number,
                    f"sofia/{gateway}/{number}",
                    gateway=gateway,
                    variables=variables,
                )
            if not dest:
                return "INVALID_URL"
            number = _sip_user(dest)
            shown = dest[4:] if dest.startswith("sip:") else dest
            shown = shown.split(";", 1)[0]
            return Dial("sofia", number, f"sofia/{profile}/{shown}", variables=variables)
        if tech == "user" and rest:
            ext, _, domain = rest.partition("@")
            domain = domain or self.factory.ipv4
            name = f"sofia/internal/{ext}@{domain}"
            return Dial("agent", ext, name, domain=domain, variables=variables)
        return "CHAN_NOT_IMPLEMENTED"

    # --- channels ---------------------------------------------------------------------------

    def _new_channel(
        self,
        *,
        uuid: str,
        name: str,
        kind: str,
        endpoint: str,
        number: str,
        profile: CallerProfile,
        script: PatientScript | None,
        codec: tuple[str, int, int] | None,
    ) -> SimChannel:
        self._session_seq += 1
        now = self.clock.now_us()
        profile.created_us = now
        ch = SimChannel(
            uuid=uuid,
            name=name,
            kind=kind,
            endpoint=endpoint,
            number=number,
            session_id=self._session_seq,
            created_us=now,
            profile=profile,
            script=script,
            codec=codec,
        )
        self._channels[uuid] = ch
        self._peak = max(self._peak, len(self._channels))
        return ch

    def _create_legs(
        self, dial: Dial, variables: dict[str, str], uuid: str, caller: SimChannel | None
    ) -> SimChannel:
        """Create the A-leg (and the loopback B-leg); fire their CHANNEL_CREATE events."""
        if caller is not None:
            cid_name = caller.profile.caller_id_name
            cid_num = caller.profile.caller_id_number
        else:
            cid_name, cid_num = "", "0000000000"
        cid_name = variables.get("origination_caller_id_name", cid_name)
        cid_num = variables.get("origination_caller_id_number", cid_num) or "0000000000"
        if dial.endpoint == "agent":
            script = self.book.find(dial.number) or AGENT_SCRIPT
        else:
            script = self.book.lookup(dial.number)
        loopback = dial.endpoint == "loopback"
        profile = CallerProfile(
            direction="outbound",
            logical_direction="outbound",
            destination_number=dial.number,
            unique_id=uuid,
            channel_name=dial.name,
            source="mod_loopback" if loopback else "src/switch_ivr_originate.c",
            dialplan="xml" if loopback else None,
            caller_id_name=cid_name,
            caller_id_number=cid_num,
            orig_caller_id_name=cid_name,
            orig_caller_id_number=cid_num,
            callee_id_name="Outbound Call",
            callee_id_number=dial.number,
            ani=cid_num,
        )
        a = self._new_channel(
            uuid=uuid,
            name=dial.name,
            kind="agent" if dial.endpoint == "agent" else "patient",
            endpoint="loopback" if loopback else "sofia",
            number=dial.number,
            profile=profile,
            script=script,
            codec=L16 if loopback else None,
        )
        early = "false" if truthy(variables.get("ignore_early_media")) else "true"
        v = a.set_var
        v("direction", "outbound")
        v("is_outbound", "true")
        if loopback:
            v("session_id", str(a.session_id))
            v("read_codec", "L16")
            v("read_rate", "8000")
            v("write_codec", "L16")
            v("write_rate", "8000")
            v("channel_name", a.name)
            v("uuid", a.uuid)
            v("call_uuid", a.uuid)
        else:
            v("uuid", a.uuid)
            v("call_uuid", a.uuid)
            v("session_id", str(a.session_id))
            if dial.endpoint == "agent":
                v("dialed_user", dial.number)
                v("dialed_domain", dial.domain)
                v("sip_profile_name", "internal")
            else:
                if dial.gateway:
                    v("sip_gateway_name", dial.gateway)
                v("sip_profile_name", "gateway" if dial.gateway else "internal")
            v("channel_name", a.name)
            v("sip_destination_url", f"sip:{dial.number}@{dial.domain or self.factory.ipv4}")
        for name, value in variables.items():
            v(name, value)
        v("originate_early_media", early)
        v("originate_endpoint", "loopback" if loopback else "sofia")
        if not loopback:
            if dial.gateway:
                v("sofia_profile_name", dial.gateway)
                v("recovery_profile_name", dial.gateway)
            else:
                v("sofia_profile_name", "internal")
        b = None
        if loopback:
            b_uuid = new_uuid()
            b_name = f"loopback/{dial.number}-b"
            b_profile = CallerProfile(
                direction="inbound",
                logical_direction="inbound",
                destination_number=dial.number,
                unique_id=b_uuid,
                channel_name=b_name,
                source="mod_loopback",
                caller_id_name=cid_name,
                caller_id_number=cid_num,
                orig_caller_id_name=cid_name,
                orig_caller_id_number=cid_num,
                callee_id_name="Outbound Call",
                callee_id_number=dial.number,
                ani=cid_num,
            )
            b = self._new_channel(
                uuid=b_uuid,
                name=b_name,
                kind="loopback_b",
                endpoint="loopback",
                number=dial.number,
                profile=b_profile,
                script=script,
                codec=L16,
            )
            a.set_var("other_loopback_leg_uuid", b.uuid)
            a.set_var("loopback_leg", "A")
            w = b.set_var
            w("direction", "inbound")
            w("uuid", b.uuid)
            w("session_id", str(b.session_id))
            w("channel_name", b.name)
            w("read_codec", "L16")
            w("read_rate", "8000")
            w("write_codec", "L16")
            w("write_rate", "8000")
            for name, value in variables.items():
                w(name, value)
            w("other_loopback_leg_uuid", a.uuid)
            w("loopback_leg", "B")
            w("call_uuid", b.uuid)
            a.peer, b.peer = b, a
        self.emit_channel("CHANNEL_CREATE", a)
        if b is not None:
            self.emit_channel("CHANNEL_CREATE", b)
        return a

    # --- originate ----------------------------------------------------------------------------

    async def dial(
        self, dialstring: str, variables: dict[str, str], *, caller: SimChannel | None = None
    ) -> SimChannel | str:
        """Create and ring a leg; returns it answered, or the failure cause (legs hung up)."""
        dial = self.resolve(dialstring)
        if isinstance(dial, str):
            return dial
        self.dialled[dial.number] += 1
        variables = {**variables, **dial.variables}
        uuid = variables.get("origination_uuid") or new_uuid()
        if uuid in self._channels:
            log.warning("originate: origination_uuid %s is already in use", uuid)
            return "DESTINATION_OUT_OF_ORDER"
        a = self._create_legs(dial, variables, uuid, caller)
        a.originating = True
        script = a.script or PatientScript()
        try:
            timeout = float(variables.get("originate_timeout") or 60)
        except ValueError:
            timeout = 60.0
        outcome = script.outcome
        wait = script.ring_seconds
        if outcome == "no_answer":
            wait = min(wait, timeout)
        elif wait > timeout:
            outcome, wait = "no_answer", timeout
        if not await self._ring(a, wait):
            a.originating = False
            return a.hangup_cause or "NORMAL_CLEARING"
        if outcome == "no_answer":
            a.originating = False
            if a.endpoint == "sofia":
                a.set_var("sip_term_status", "487")
            # FreeSWITCH reports the failed originate before the legs finish hanging up.
            asyncio.get_running_loop().call_soon(self.hangup, a, "NO_ANSWER")
            return "NO_ANSWER"
        if outcome != "answer":
            cause = FAILURES.get(outcome)
            if cause is None:  # invalid number
                cause = "NO_ROUTE_DESTINATION" if a.endpoint == "loopback" else "UNALLOCATED_NUMBER"
            a.originating = False
            if a.endpoint == "sofia":
                a.set_var("sip_term_status", SIP_STATUS.get(cause, "480"))
                a.set_var("sip_hangup_disposition", "recv_refuse")
            self.hangup(a.peer or a, cause)
            return cause
        b_records = self._answer_originated(a)
        await self.clock.sleep(ANSWER_TO_JOB)
        a.originating = False
        if a.hungup:
            return a.hangup_cause or "NORMAL_CLEARING"
        self._flip(a)
        self._start_far_end(a)
        if b_records and a.peer is not None:
            # The real loopback B-leg records the same path too; only A's copy is written here.
            # Spawned: it starts after the caller has reported the originate (BACKGROUND_JOB).
            a.peer.spawn(self._b_leg_records(a.peer, b_records))
        return a

    async def originate(self, arg: str) -> str:
        """The ``originate`` api: ``+OK <uuid>\\n`` once answered, or ``-ERR <CAUSE>\\n``."""
        tokens = split_args(arg)
        if len(tokens) < 2:
            return (
                "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] "
                "[<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n"
            )
        extra: dict[str, str] = {}  # positional <cid_name> <cid_num> <timeout_sec>
        if len(tokens) > 4 and tokens[4] != "undef":
            extra["origination_caller_id_name"] = tokens[4]
        if len(tokens) > 5 and tokens[5] != "undef":
            extra["origination_caller_id_number"] = tokens[5]
        if len(tokens) > 6 and tokens[6].isdigit():
            extra["originate_timeout"] = tokens[6]
        result = await self.dial(tokens[0], extra, caller=None)
        if isinstance(result, str):
            return f"-ERR {result}\n"
        a = result
        if tokens[1].startswith("&"):
            app, app_arg = parse_app(tokens[1])
        else:  # an extension: no dialplan here, so the leg just waits
            app, app_arg = "park", ""
        a.spawn(self.run_top_app(a, app, app_arg))
        return f"+OK {a.uuid}\n"

    async def _ring(self, ch: SimChannel, seconds: float) -> bool:
        """Wait ``seconds``; False if the leg was hung up meanwhile (uuid_kill, hupall)."""
        try:
            await asyncio.wait_for(ch.done.wait(), self.clock.real(seconds))
        except TimeoutError:
            return not ch.hungup
        return False

    # --- answer -------------------------------------------------------------------------------

    def _mark_answered(self, ch: SimChannel, state: str, number: int, call_state: str) -> None:
        ch.answered_us = self.clock.now_us()
        ch.answer_state = "answered"
        if ch.endpoint == "sofia":
            ch.codec = PCMU
            ch.profile.network_addr = self.factory.ipv4
            ch.profile.callee_id_name = ch.number
            for name, value in (
                ("sip_to_user", ch.number),
                ("sip_call_id", new_uuid()),
                ("read_codec", "PCMU"),
                ("read_rate", "8000"),
                ("write_codec", "PCMU"),
                ("write_rate", "8000"),
                ("dtmf_type", "rfc2833"),
            ):
                ch.set_var(name, value)
        ch.set_state(state, number, call_state)
        self.emit_channel("CHANNEL_ANSWER", ch)
        ch.answered.set()

    def _answer_originated(self, a: SimChannel) -> str | None:
        """Answer the A-leg (and the loopback B-leg); returns the path the B-leg will also
        record (loopback legs inherit ``execute_on_answer``)."""
        self._mark_answered(a, "CS_CONSUME_MEDIA", 7, "DOWN")
        a.set_var("endpoint_disposition", "ANSWER")
        on_answer = a.get_var("execute_on_answer")
        b_records = None
        if on_answer:
            app, arg = split_execute(on_answer)
            if app == "record_session" and arg:
                a.set_var("current_application_data", arg)
                a.set_var("current_application", "record_session")
                self.start_recording(a, arg)
                b_records = arg
            elif app:
                a.spawn(self.run_inner_app(a, app, arg))
        b = a.peer
        if b is not None:
            b.hit_dialplan = True
            b.set_var("current_application", "answer")
            self._mark_answered(b, "CS_EXECUTE", 4, "RINGING")
            b.set_var("endpoint_disposition", "ANSWER")
            b.set_state("CS_EXECUTE", 4, "ACTIVE")
        return b_records if b is not None else None

    async def _b_leg_records(self, b: SimChannel, path: str) -> None:
        if not b.hungup:
            b.set_var("current_application_data", path)
            b.set_var("current_application", "record_session")
            self.start_recording(b, path, write_file=False)

    def _flip(self, a: SimChannel) -> None:
        """What FreeSWITCH does to the A-leg once the originate succeeds."""
        p = a.profile
        if p.caller_id_name:
            a.set_var("pre_transfer_caller_id_name", p.caller_id_name)
        a.set_var("pre_transfer_caller_id_number", p.caller_id_number)
        a.set_var("channel_cid_flipped", "yes")
        a.set_var("call_uuid", a.get_var("call_uuid") or a.uuid)
        p.callee_id_name, p.callee_id_number = p.caller_id_name, p.caller_id_number
        p.caller_id_name = "Outbound Call" if a.endpoint == "loopback" else a.number
        p.caller_id_number = a.number
        a.hit_dialplan = True
        a.set_state("CS_EXECUTE", 4, "ACTIVE")

    # --- the far end (scripted patient or agent phone) -----------------------------------------

    def _start_far_end(self, a: SimChannel) -> None:
        script = a.script or PatientScript()
        answered_at = a.answered_us / 1_000_000
        if script.speech_wav and a.kind == "patient":
            a.spawn(self._speak(a, script.speech_wav))
        if script.dtmf:
            a.spawn(self._press(a, script.dtmf, answered_at))
        limit = script.hangup_after if script.hangup_after is not None else self.max_call_seconds
        a.spawn(self._hang_up_at(a, answered_at + limit))

    async def _sleep_until(self, sim_time: float) -> None:
        await self.clock.sleep(sim_time - self.clock.now())

    def load_speech(self, path: str) -> array | None:
        if path not in self._speech_cache:
            try:
                self._speech_cache[path] = audio.read_mono(path)
            except (OSError, EOFError, ValueError) as exc:
                log.warning("cannot read speech file %s: %s", path, exc)
                return None
        return self._speech_cache[path]

    async def _speak(self, a: SimChannel, path: str) -> None:
        samples = self.load_speech(path)
        if samples is None:
            return
        a.speech = samples
        seconds = len(samples) / audio.RATE
        far = a.peer  # on loopback, the B-leg "plays" the patient's words (as the captures show)
        if far is not None and not far.hungup:
            far.set_var("current_application_data", path)
            far.set_var("current_application", "playback")
            self.emit_channel("PLAYBACK_START", far, after=[("Playback-File-Path", path)])
        await self._sleep_until(a.answered_us / 1_000_000 + seconds)
        a.speech_done = True
        if far is not None and not far.hungup:
            frames = len(samples)
            _playback_vars(far, frames, audio.RATE)
            self.emit_channel(
                "PLAYBACK_STOP",
                far,
                after=[("Playback-File-Path", path), ("Playback-Status", "done")],
            )

    async def _press(
        self, a: SimChannel, dtmf: list[tuple[float, str]], answered_at: float
    ) -> None:
        for at, digits in dtmf:
            await self._sleep_until(answered_at + at)
            for index, digit in enumerate(digits):
                if index:
                    await self.clock.sleep(DTMF_GAP)
                if a.hungup:
                    return
                self.receive_dtmf(a, digit)

    async def _hang_up_at(self, a: SimChannel, sim_time: float) -> None:
        await self._sleep_until(sim_time)
        if a.hungup:
            return
        if a.endpoint == "sofia":
            a.set_var("sip_hangup_disposition", "recv_bye")
        self.hangup(a.peer or a, "NORMAL_CLEARING")

    # --- DTMF -----------------------------------------------------------------------------------

    def receive_dtmf(self, ch: SimChannel, digit: str, source: str = "UNKNOWN") -> None:
        digit = digit.upper() if digit.isalpha() else digit
        if digit not in "0123456789*#ABCD" or len(digit) != 1:
            return
        self.emit_channel(
            "DTMF",
            ch,
            after=[("DTMF-Digit", digit), ("DTMF-Duration", "2000"), ("DTMF-Source", source)],
            variables=False,
        )
        ch.digits_dialed += digit
        ch.dtmf_buffer.append(digit)
        ch.dtmf_arrived.set()

    # --- recording ------------------------------------------------------------------------------

    def start_recording(self, ch: SimChannel, path: str, *, write_file: bool = True) -> Recording:
        try:
            rate = int(ch.get_var("record_sample_rate") or audio.RATE)
        except ValueError:
            rate = audio.RATE
        if rate not in (8000, 16000, 32000, 48000):
            rate = audio.RATE
        rec = Recording(
            path=path,
            start_s=self.clock.now(),
            stereo=truthy(ch.get_var("RECORD_STEREO")),
            rate=rate,
            write_file=write_file,
        )
        ch.recordings.append(rec)
        self.emit_channel("RECORD_START", ch, after=[("Record-File-Path", path)])
        return rec

    def stop_recording(self, ch: SimChannel, rec: Recording, completion: str) -> None:
        if rec in ch.recordings:
            ch.recordings.remove(rec)
        stop_s = self.clock.now()
        frames = max(0, round((stop_s - rec.start_s) * rec.rate))
        answered_s = ch.answered_us / 1_000_000 if ch.answered_us else None
        speech = ch.speech
        if speech is not None and answered_s is not None and ch.speech_done:
            # never cut the patient's words short by a few ms of timer jitter
            speech_end = round(
                (answered_s - rec.start_s) * rec.rate + len(speech) * rec.rate / 8000
            )
            frames = max(frames, speech_end)
        channels = 2 if rec.stereo else 1
        size = 44 + frames * 2 * channels
        if rec.write_file:
            try:
                size = self._write_recording(ch, rec, frames, answered_s)
            except OSError as exc:
                log.error("cannot write recording %s: %s", rec.path, exc)
        ch.set_var("record_file_size", str(size))
        ch.set_var("record_samples", str(frames))
        ch.set_var("record_seconds", str(frames // rec.rate))
        ch.set_var("record_ms", str(frames * 1000 // rec.rate))
        ch.set_var("record_completion_cause", completion)
        self.emit_channel(
            "RECORD_STOP",
            ch,
            after=[("Record-File-Path", rec.path), ("Record-Completion-Cause", completion)],
        )

    def _write_recording(
        self, ch: SimChannel, rec: Recording, frames: int, answered_s: float | None
    ) -> int:
        left = audio.noise(frames)  # what the leg hears: the far end (patient)
        right = audio.noise(frames)  # what is played to the leg: the clinic side
        if answered_s is not None:
            offset = answered_s - rec.start_s
            if ch.speech is not None:
                speech = ch.speech
                if rec.rate != audio.RATE:
                    speech = audio.resample(speech, audio.RATE, rec.rate)
                audio.mix(left, speech, round(offset * rec.rate))
            for at, samples in ch.played:
                if rec.rate != audio.RATE:
                    samples = audio.resample(samples, audio.RATE, rec.rate)
                audio.mix(right, samples, round((offset + at) * rec.rate))
        if rec.stereo:
            return audio.write_wav(rec.path, rec.rate, [left, right])
        audio.mix(left, right, 0)
        return audio.write_wav(rec.path, rec.rate, [left])

    # --- hangup -------------------------------------------------------------------------------

    def hangup(self, ch: SimChannel, cause: str = "NORMAL_CLEARING") -> None:
        """Hang a leg up now, firing its events; then the loopback peer and the bridged leg."""
        if ch.hungup:
            return
        ch.hungup = True
        ch.hangup_cause = cause
        ch.answer_state = "hangup"
        ch.state_number = 10
        self.emit_channel("CHANNEL_HANGUP", ch)
        ch.hangup_us = self.clock.now_us()
        if ch.parked:
            ch.parked = False
            self.emit_channel("CHANNEL_UNPARK", ch)
        for name, arg, app_uuid in reversed(ch.exec_stack):
            after: Headers = [("Application", name)]
            if arg:
                after.append(("Application-Data", arg))
            after += [("Application-Response", "_none_"), ("Application-UUID", app_uuid)]
            self.emit_channel("CHANNEL_EXECUTE_COMPLETE", ch, after=after)
        ch.exec_stack.clear()
        partner = ch.partner
        if partner is not None and ch.other_type == "originatee" and not partner.hungup:
            self.emit_channel("CHANNEL_UNBRIDGE", ch)
        ch.set_state("CS_HANGUP", 10)
        self.emit_channel("CHANNEL_STATE", ch, variables=False)
        for rec in list(ch.recordings):
            self.stop_recording(ch, rec, "success-silence")
        if ch.socket is not None:
            self.session_ended(ch, ch.socket, "hangup")
        ch.set_state("CS_REPORTING", 11, "HANGUP")
        self.emit_channel("CHANNEL_STATE", ch, variables=False)
        self._cdr_vars(ch)
        self.emit_channel("CHANNEL_HANGUP_COMPLETE", ch, before=[("Hangup-Cause", cause)])
        if ch.socket is not None:
            self.session_ended(ch, ch.socket, "complete")
        self._channels.pop(ch.uuid, None)
        ch.cancel_tasks()
        ch.done.set()
        ch.dtmf_arrived.set()
        if ch.peer is not None and not ch.peer.hungup:
            self.hangup(ch.peer, cause)
        if partner is not None and not partner.hungup:
            partner.set_var("last_bridge_hangup_cause", cause)
            if partner.endpoint == "sofia":
                partner.set_var("sip_hangup_disposition", "send_bye")
            self.hangup(partner, "NORMAL_CLEARING")

    def _cdr_vars(self, ch: SimChannel) -> None:
        cause = ch.hangup_cause or "NORMAL_CLEARING"
        v = ch.set_var
        if ch.endpoint == "sofia":
            if not ch.get_var("sip_term_status"):
                v("sip_term_status", "200" if ch.answered_us else SIP_STATUS.get(cause, "480"))
            v("proto_specific_hangup_cause", f"sip:{ch.get_var('sip_term_status')}")
            v("sip_term_cause", str(q850(cause)))
            if not ch.get_var("sip_hangup_disposition"):
                v("sip_hangup_disposition", "send_bye" if ch.answered_us else "send_cancel")
        v("hangup_cause", cause)
        v("hangup_cause_q850", str(q850(cause)))
        v("digits_dialed", ch.digits_dialed or "none")
        start, answer, bridge, end = ch.created_us, ch.answered_us, ch.bridged_us, ch.hangup_us
        profile_start = ch.profile.created_us
        v("start_stamp", stamp(start))
        v("profile_start_stamp", stamp(profile_start))
        if answer:
            v("answer_stamp", stamp(answer))
        if bridge:
            v("bridge_stamp", stamp(bridge))
        v("end_stamp", stamp(end))

        def epoch(us: int) -> str:
            return str(us // 1_000_000)

        for name, us in (
            ("start", start),
            ("profile_start", profile_start),
            ("answer", answer),
            ("bridge", bridge),
            ("last_hold", 0),
        ):
            v(f"{name}_epoch", epoch(us))
            v(f"{name}_uepoch", str(us))
        v("hold_accum_seconds", "0")
        v("hold_accum_usec", "0")
        v("hold_accum_ms", "0")
        for name in ("resurrect", "progress", "progress_media"):
            v(f"{name}_epoch", "0")
            v(f"{name}_uepoch", "0")
        v("end_epoch", epoch(end))
        v("end_uepoch", str(end))
        if ch.last_app:
            v("last_app", ch.last_app[0])
            if ch.last_app[1]:
                v("last_arg", ch.last_app[1])
        p = ch.profile
        v(
            "caller_id",
            f'"{p.caller_id_name}" <{p.caller_id_number}>'
            if p.caller_id_name
            else p.caller_id_number,
        )
        duration = end - start
        bill = end - answer if answer else 0
        answer_wait = answer - start if answer else 0
        wait = bridge - start if bridge else 0
        flow = duration if answer else 0
        seconds = {
            "duration": int(epoch(end)) - int(epoch(start)),
            "billsec": int(epoch(end)) - int(epoch(answer)) if answer else 0,
            "progresssec": 0,
            "answersec": int(epoch(answer)) - int(epoch(start)) if answer else 0,
            "waitsec": int(epoch(bridge)) - int(epoch(start)) if bridge else 0,
            "progress_mediasec": 0,
            "flow_billsec": int(epoch(end)) - int(epoch(start)) if answer else 0,
        }
        for name, value in seconds.items():
            v(name, str(value))
        for suffix, div in (("msec", 1000), ("usec", 1)):
            m = "m" if suffix == "msec" else "u"
            v(f"{m}duration", str(duration // div))
            v(f"bill{suffix}", str(bill // div))
            v(f"progress{suffix}", "0")
            v(f"answer{suffix}", str(answer_wait // div))
            v(f"wait{suffix}", str(wait // div))
            v(f"progress_media{suffix}", "0")
            v(f"flow_bill{suffix}", str(flow // div))
        if ch.endpoint == "loopback":
            v("is_loopback", "1")

    # --- bridge -------------------------------------------------------------------------------

    def bridge(self, a: SimChannel, b: SimChannel) -> None:
        """Join two answered legs (``uuid_bridge a b`` / the ``bridge`` app)."""
        for leg in (a, b):
            old = leg.partner
            if old is not None and old not in (a, b):
                old.partner = None
                old.other_type = None
        now = self.clock.now_us()
        for leg, other in ((a, b), (b, a)):
            transfer = f"{now // 1_000_000}:{new_uuid()}:uuid_br:{other.uuid}"
            p = leg.profile
            leg.set_var("original_destination_number", p.destination_number)
            leg.set_var("original_caller_id_name", p.caller_id_name)
            leg.set_var("original_caller_id_number", p.caller_id_number)
            leg.set_var("transfer_history", transfer)
            leg.set_var("transfer_source", transfer)
            p.transfer_source = transfer
            p.index += 1
            p.created_us = now
            leg.bridged_us = now
            leg.partner = other
        a.profile.logical_direction = "inbound"
        b.profile.caller_id_name = a.profile.caller_id_name
        b.profile.caller_id_number = a.profile.caller_id_number
        a.other_type, b.other_type = "originatee", "originator"
        b.set_var("call_uuid", a.uuid)
        for leg, other in ((a, b), (b, a)):
            leg.set_var("last_bridge_to", other.uuid)
            leg.set_var("bridge_channel", other.name)
            leg.set_var("bridge_uuid", other.uuid)
            leg.set_var("signal_bond", other.uuid)
        a.set_state("CS_SOFT_EXECUTE", 3, "ACTIVE")
        b.set_state("CS_EXECUTE", 4, "ACTIVE")
        self.emit_channel(
            "CHANNEL_BRIDGE",
            a,
            before=[("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)],
        )
        a.set_state("CS_EXCHANGE_MEDIA", 5, "ACTIVE")

    # --- playback bookkeeping -----------------------------------------------------------------

    def played_to(self, ch: SimChannel, samples: array | None) -> None:
        """Remember audio played to ``ch`` (the right channel of its stereo recordings)."""
        if samples is None or not ch.answered_us:
            return
        at = self.clock.now() - ch.answered_us / 1_000_000
        ch.played.append((at, samples))


def _playback_vars(ch: SimChannel, frames: int, rate: int) -> None:
    ch.set_var("playback_last_offset_pos", str(frames))
    ch.set_var("playback_seconds", str(frames // rate))
    ch.set_var("playback_ms", str(frames * 1000 // rate))
    ch.set_var("playback_samples", str(frames))


def _sip_user(dest: str) -> str:
    """``sip:nobody@127.0.0.1:5999;transport=tcp`` -> ``nobody``; ``+8613800138000`` stays."""
    dest = dest[4:] if dest.startswith("sip:") else dest
    return dest.split("@", 1)[0].split(";", 1)[0]


def path_exists(path: str) -> bool:
    try:
        return Path(path).is_file()
    except OSError:
        return False
