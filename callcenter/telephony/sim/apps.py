"""Dialplan applications on a simulated channel, with CHANNEL_EXECUTE / _COMPLETE events.

The application named in ``originate`` (``&park()``, ``&bridge(...)``, ``&socket(...)``) owns
the A-leg; ``sendmsg`` executes are queued to a parked (or socket-controlled) channel and run
in order, each reported with ``Application-UUID`` = the command's ``Event-UUID``. An
application the simulator does not know hangs the channel up with
``DESTINATION_OUT_OF_ORDER``, as FreeSWITCH does for an invalid application.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from array import array
from typing import TYPE_CHECKING, Any

from . import audio
from .calls import DTMF_GAP, _playback_vars, path_exists, take_vars
from .channel import SimChannel
from .events import Clock, Headers, new_uuid

if TYPE_CHECKING:
    from .server import EslConnection

log = logging.getLogger(__name__)

MEDIA_UNKNOWN_SECONDS = 1.0  # length assumed for media we cannot measure (mp3, http://, say:)


def app_headers(name: str, arg: str, app_uuid: str, response: str | None = None) -> Headers:
    headers: Headers = [("Application", name)]
    if arg:
        headers.append(("Application-Data", arg))
    if response is not None:
        headers.append(("Application-Response", response))
    headers.append(("Application-UUID", app_uuid))
    return headers


def header(headers: Any, name: str, default: str = "") -> str:
    """Case-insensitive lookup in wire.Headers (clients write ``Event-UUID`` or ``event-uuid``)."""
    lower = name.lower()
    for key, value in headers.items:
        if key.lower() == lower:
            return value
    return default


def tone(spec: str) -> tuple[float, array]:
    """``tone_stream://%(on,off,freq)...`` -> (seconds, 8 kHz samples)."""
    samples = array("h")
    for on, off, freq in re.findall(r"%\((\d+),(\d+),([\d.]+)", spec):
        n_on = int(on) * audio.RATE // 1000
        step = 2 * math.pi * float(freq) / audio.RATE
        samples.extend(int(8000 * math.sin(step * i)) for i in range(n_on))
        samples.extend([0] * (int(off) * audio.RATE // 1000))
    if not samples:
        return MEDIA_UNKNOWN_SECONDS, array("h", [0] * audio.RATE)
    return len(samples) / audio.RATE, samples


class AppRunner:
    clock: Clock

    if TYPE_CHECKING:

        def emit_channel(self, name: str, ch: SimChannel, **kw: Any) -> None: ...
        def hangup(self, ch: SimChannel, cause: str = ...) -> None: ...
        def start_recording(self, ch: SimChannel, path: str, **kw: Any) -> Any: ...
        def stop_recording(self, ch: SimChannel, rec: Any, completion: str) -> None: ...
        def bridge(self, a: SimChannel, b: SimChannel) -> None: ...
        def played_to(self, ch: SimChannel, samples: array | None) -> None: ...
        def receive_dtmf(self, ch: SimChannel, digit: str, source: str = ...) -> None: ...
        def load_speech(self, path: str) -> array | None: ...
        def _mark_answered(self, ch: SimChannel, state: str, number: int, cs: str) -> None: ...
        async def dial(
            self, dialstring: str, variables: dict[str, str], *, caller: SimChannel | None = None
        ) -> SimChannel | str: ...
        async def open_outbound(
            self, ch: SimChannel, host: str, port: int, mode: str, control: str
        ) -> EslConnection | None: ...

    # --- running applications -----------------------------------------------------------------

    async def run_top_app(self, ch: SimChannel, name: str, arg: str) -> None:
        """The originate's application; when it returns the channel hangs up."""
        await self.execute(ch, name, arg, new_uuid())
        if not ch.hungup:
            self.hangup(ch, "NORMAL_CLEARING")

    async def run_inner_app(self, ch: SimChannel, name: str, arg: str) -> None:
        await self.execute(ch, name, arg, new_uuid())

    def queue_app(self, ch: SimChannel, name: str, arg: str, app_uuid: str) -> None:
        """A sendmsg execute: run in order by park / socket, or now if nothing takes the queue."""
        if ch.hungup:
            return
        if ch.serving:
            ch.app_queue.put_nowait((name, arg, app_uuid))
        else:
            ch.spawn(self.execute(ch, name, arg, app_uuid))

    async def execute(self, ch: SimChannel, name: str, arg: str, app_uuid: str) -> None:
        handler = getattr(self, f"_app_{name}", None)
        if ch.hungup:
            return
        if handler is None:
            log.warning(
                "%s: application %r is not simulated; hanging up (FreeSWITCH does so for an "
                "invalid application)",
                ch.name,
                name,
            )
            self.hangup(ch, "DESTINATION_OUT_OF_ORDER")
            return
        entry = (name, arg, app_uuid)
        ch.set_var("current_application", name)
        if arg:
            ch.set_var("current_application_data", arg)
        ch.exec_stack.append(entry)
        ch.last_app = (name, arg)
        self.emit_channel("CHANNEL_EXECUTE", ch, after=app_headers(name, arg, app_uuid))
        if arg:
            ch.set_var("current_application_data", arg)
        ch.set_var("current_application", name)
        try:
            response = await handler(ch, arg)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: application %s(%s) failed", ch.name, name, arg)
            response = None
        if ch.hungup or entry not in ch.exec_stack:
            return
        ch.exec_stack.remove(entry)
        if response:
            ch.set_var("current_application_response", response)
        self.emit_channel(
            "CHANNEL_EXECUTE_COMPLETE",
            ch,
            after=app_headers(name, arg, app_uuid, response or "_none_"),
        )

    async def _serve_queue(self, ch: SimChannel, until: asyncio.Event | None = None) -> None:
        """Run queued applications until the channel ends (or ``until`` is set)."""
        ch.serving = True
        try:
            while not ch.hungup:
                get = asyncio.ensure_future(ch.app_queue.get())
                waits: set[asyncio.Future[Any]] = {get}
                stop = None
                if until is not None:
                    stop = asyncio.ensure_future(until.wait())
                    waits.add(stop)
                try:
                    done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for fut in waits:
                        if not fut.done():
                            fut.cancel()
                if get not in done:
                    return
                name, arg, app_uuid = get.result()
                if not ch.parked:
                    ch.parked = True
                    self.emit_channel("CHANNEL_PARK", ch)
                await self.execute(ch, name, arg, app_uuid)
        finally:
            ch.serving = False

    # --- media ----------------------------------------------------------------------------------

    def media(self, path: str) -> tuple[str, float, array | None] | None:
        """(file type, seconds, 8 kHz samples or None); None when the file does not exist."""
        _, spec = take_vars(path)
        if spec.startswith("silence_stream://"):
            try:
                ms = int(spec[len("silence_stream://") :].split(",", 1)[0] or 0)
            except ValueError:
                ms = 0
            seconds = ms / 1000 if ms >= 0 else MEDIA_UNKNOWN_SECONDS
            return "silence_stream", seconds, None
        if spec.startswith("tone_stream://"):
            seconds, samples = tone(spec)
            return "tone_stream", seconds, samples
        if spec.startswith("file_string://"):
            total, pieces = 0.0, array("h")
            for part in spec[len("file_string://") :].split("!"):
                found = self.media(part)
                if found is None:
                    return None
                total += found[1]
                pieces.extend(found[2] or array("h", [0] * int(found[1] * audio.RATE)))
            return "file_string", total, pieces
        if "://" in spec or spec.startswith(("say:", "speak:")):
            return spec.split(":", 1)[0], MEDIA_UNKNOWN_SECONDS, None
        if not path_exists(spec):
            return None
        if spec.lower().endswith(".wav"):
            samples = self.load_speech(spec)
            if samples is not None:
                return "file", len(samples) / audio.RATE, samples
        return "file", audio.duration_of(spec) or MEDIA_UNKNOWN_SECONDS, None

    async def play(self, ch: SimChannel, path: str, *, interruptible: bool = False) -> str:
        """Play to ``ch`` with PLAYBACK_START / PLAYBACK_STOP; a digit stops it if interruptible."""
        found = self.media(path)
        if found is None:
            log.info("%s: playback of %s: file not found", ch.name, path)
            return "FILE NOT FOUND"
        kind, seconds, samples = found
        typed: Headers = [("Playback-File-Type", kind)] if kind == "tone_stream" else []
        ch.set_var("current_loop", "1")
        ch.set_var("total_loops", "1")
        self.emit_channel("PLAYBACK_START", ch, after=[*typed, ("Playback-File-Path", path)])
        started = self.clock.now()
        answered = ch.answered_us / 1_000_000 if ch.answered_us else None
        interrupted = False
        if interruptible:
            ch.dtmf_arrived.clear()
            if ch.dtmf_buffer:
                interrupted = True
            else:
                try:
                    await asyncio.wait_for(ch.dtmf_arrived.wait(), self.clock.real(seconds))
                    interrupted = True
                except TimeoutError:
                    pass
        else:
            await self.clock.sleep(seconds)
        if ch.hungup:
            return "FILE PLAYED"
        elapsed = min(seconds, max(0.0, self.clock.now() - started))
        frames = int(elapsed * audio.RATE)
        if samples is not None and answered is not None:
            ch.played.append((started - answered, samples[:frames]))
        _playback_vars(ch, frames, audio.RATE)
        status = "break" if interrupted else "done"
        self.emit_channel(
            "PLAYBACK_STOP",
            ch,
            after=[*typed, ("Playback-File-Path", path), ("Playback-Status", status)],
        )
        return "FILE PLAYED"

    async def collect(
        self, ch: SimChannel, max_digits: int, terminators: str, first_ms: int, next_ms: int
    ) -> tuple[str, str | None]:
        """Digits from the channel's DTMF buffer: (digits, terminator used or None)."""
        digits = ""
        timeout_ms = first_ms
        while len(digits) < max_digits and not ch.hungup:
            if ch.dtmf_buffer:
                digit = ch.dtmf_buffer.pop(0)
                if digit in terminators:
                    return digits, digit
                digits += digit
                timeout_ms = next_ms
                continue
            ch.dtmf_arrived.clear()
            try:
                await asyncio.wait_for(ch.dtmf_arrived.wait(), self.clock.real(timeout_ms / 1000))
            except TimeoutError:
                break
        return digits, None

    def _listener_reacts(self, ch: SimChannel) -> None:
        """A prompt that collects digits starts: the scripted patient answers it (or not)."""
        script = ch.script
        index = ch.prompts_heard
        ch.prompts_heard += 1
        if script is None or index >= len(script.dtmf_on_prompt):
            return
        delay, keys = script.dtmf_on_prompt[index]
        if keys:
            ch.spawn(self._react(ch, delay, keys))

    async def _react(self, ch: SimChannel, delay: float, keys: str) -> None:
        await self.clock.sleep(delay)
        if ch.hungup:
            return
        if keys == "hangup":
            self.hangup(ch.peer or ch, "NORMAL_CLEARING")
            return
        for index, digit in enumerate(keys):
            if index:
                await self.clock.sleep(DTMF_GAP)
            if ch.hungup:
                return
            self.receive_dtmf(ch, digit)

    # --- applications -------------------------------------------------------------------------

    async def _app_park(self, ch: SimChannel, arg: str) -> None:
        ch.parked = True
        self.emit_channel("CHANNEL_PARK", ch)
        await self._serve_queue(ch)

    async def _app_socket(self, ch: SimChannel, arg: str) -> str:
        parts = arg.split()
        if not parts:
            return "_none_"
        host, _, port_text = parts[0].partition(":")
        try:
            port = int(port_text.split("/", 1)[0] or 8084)
        except ValueError:
            port = 8084
        flags = {p.lower() for p in parts[1:]}
        mode = "async" if "async" in flags else "static"
        control = "full" if "full" in flags else "single-channel"
        ch.set_var("socket_host", host)
        conn = await self.open_outbound(ch, host, port, mode, control)
        if conn is None:
            return "_none_"
        await self._serve_queue(ch, until=conn.closed)
        if ch.parked and not ch.hungup:
            ch.parked = False
            self.emit_channel("CHANNEL_UNPARK", ch)
        return "_none_"

    async def _app_playback(self, ch: SimChannel, arg: str) -> str:
        return await self.play(ch, arg.strip())

    async def _app_endless_playback(self, ch: SimChannel, arg: str) -> str:
        while not ch.hungup:
            if await self.play(ch, arg.strip()) != "FILE PLAYED":
                return "FILE NOT FOUND"
        return "FILE PLAYED"

    async def _app_play_and_get_digits(self, ch: SimChannel, arg: str) -> str:
        parts = arg.split()
        if len(parts) < 9:
            log.warning("%s: play_and_get_digits needs 9 arguments: %r", ch.name, arg)
            return "_none_"
        try:
            min_digits, max_digits, tries, timeout_ms = (int(p) for p in parts[:4])
            digit_timeout = int(parts[9]) if len(parts) > 9 else timeout_ms
        except ValueError:
            log.warning("%s: bad play_and_get_digits arguments: %r", ch.name, arg)
            return "_none_"
        terminators = "" if parts[4] == "none" else parts[4]
        prompt, invalid, var, regexp = parts[5], parts[6], parts[7], parts[8]
        for _ in range(max(1, tries)):
            self._listener_reacts(ch)
            if not ch.dtmf_buffer:
                await self.play(ch, prompt, interruptible=True)
            digits, used = await self.collect(
                ch, max_digits, terminators, timeout_ms, digit_timeout
            )
            if ch.hungup:
                return "_none_"
            if used:
                ch.set_var("read_terminator_used", used)
            if len(digits) >= min_digits and digits and _matches(regexp, digits):
                ch.set_var("read_result", "success")
                ch.set_var(var, digits)
                return "_none_"
            if invalid and invalid != "none":
                await self.play(ch, invalid)
        ch.set_var("read_result", "failure")
        return "_none_"

    async def _app_read(self, ch: SimChannel, arg: str) -> str:
        # read <min> <max> <sound file> <variable name> <timeout> <terminators>
        parts = arg.split()
        if len(parts) < 5:
            return "_none_"
        try:
            min_digits, max_digits, timeout_ms = int(parts[0]), int(parts[1]), int(parts[4])
        except ValueError:
            return "_none_"
        terminators = parts[5] if len(parts) > 5 else "#"
        self._listener_reacts(ch)
        if not ch.dtmf_buffer:
            await self.play(ch, parts[2], interruptible=True)
        digits, used = await self.collect(ch, max_digits, terminators, timeout_ms, timeout_ms)
        if used:
            ch.set_var("read_terminator_used", used)
        ch.set_var(parts[3], digits)
        ch.set_var("read_result", "success" if len(digits) >= min_digits else "timeout")
        return "_none_"

    async def _app_speak(self, ch: SimChannel, arg: str) -> None:
        text = arg.split("|")[-1]
        await self.clock.sleep(max(0.5, 0.07 * len(text)))

    async def _app_sleep(self, ch: SimChannel, arg: str) -> None:
        try:
            ms = int(arg.strip() or 0)
        except ValueError:
            ms = 0
        await self.clock.sleep(ms / 1000)

    async def _app_answer(self, ch: SimChannel, arg: str) -> None:
        if not ch.answered_us:
            self._mark_answered(ch, "CS_EXECUTE", 4, "ACTIVE")

    async def _app_hangup(self, ch: SimChannel, arg: str) -> None:
        self.hangup(ch, arg.strip() or "NORMAL_CLEARING")

    async def _app_set(self, ch: SimChannel, arg: str) -> None:
        name, _, value = arg.partition("=")
        if name.strip():
            ch.set_var(name.strip(), value if value else None)

    _app_export = _app_set

    async def _app_unset(self, ch: SimChannel, arg: str) -> None:
        ch.set_var(arg.strip(), None)

    async def _app_noop(self, ch: SimChannel, arg: str) -> None:
        return None

    _app_log = _app_info = _app_pre_answer = _app_ring_ready = _app_noop
    _app_start_dtmf = _app_stop_dtmf = _app_noop

    async def _app_sched_hangup(self, ch: SimChannel, arg: str) -> None:
        when, _, cause = arg.strip().partition(" ")
        try:
            seconds = float(when.lstrip("+"))
        except ValueError:
            return
        ch.spawn(self._hangup_later(ch, seconds, cause.strip() or "ALLOTTED_TIMEOUT"))

    async def _hangup_later(self, ch: SimChannel, seconds: float, cause: str) -> None:
        await self.clock.sleep(seconds)
        self.hangup(ch, cause)

    async def _app_echo(self, ch: SimChannel, arg: str) -> None:
        await ch.done.wait()

    async def _app_record_session(self, ch: SimChannel, arg: str) -> None:
        path = arg.split()[0] if arg.split() else ""
        if path:
            self.start_recording(ch, path)

    async def _app_stop_record_session(self, ch: SimChannel, arg: str) -> None:
        path = arg.strip()
        for rec in list(ch.recordings):
            if not path or path == "all" or rec.path == path:
                self.stop_recording(ch, rec, "success-maxtime")

    async def _app_bridge(self, ch: SimChannel, arg: str) -> str:
        result = await self.dial(arg, {}, caller=ch)
        if isinstance(result, str):
            ch.set_var("originate_disposition", result)
            ch.set_var("last_bridge_hangup_cause", result)
            return "_none_"
        if ch.hungup:
            self.hangup(result, "ORIGINATOR_CANCEL")
            return "_none_"
        self.bridge(ch, result)
        await ch.done.wait()
        return "_none_"


def _matches(regexp: str, digits: str) -> bool:
    try:
        return re.fullmatch(regexp, digits) is not None
    except re.error:
        return True
