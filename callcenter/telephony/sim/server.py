"""Event-socket connections: inbound clients (``auth``, ``event``, ``api``, ``bgapi``, ...) and
the outbound socket FreeSWITCH opens for ``&socket(host:port async full)``.

As in FreeSWITCH, a connection handles its commands one at a time, and events fired while a
command runs are sent after its reply (so ``uuid_kill`` answers ``+OK`` before the hangup
events, and ``api originate`` answers before the call's events).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from .. import wire
from .apps import header
from .channel import SimChannel
from .events import EventFactory, Headers, connect_reply_headers, new_uuid

if TYPE_CHECKING:
    from .script import ScriptBook

log = logging.getLogger(__name__)

GOODBYE = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
MAX_BUFFER = 4 * 1024 * 1024
# What ``myevents`` subscribes to (mod_event_socket), for the session's own Unique-ID only.
MYEVENTS = frozenset(
    {
        "CHANNEL_ANSWER",
        "CHANNEL_APPLICATION",
        "CHANNEL_BRIDGE",
        "CHANNEL_CREATE",
        "CHANNEL_DATA",
        "CHANNEL_DESTROY",
        "CHANNEL_EXECUTE",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE",
        "CHANNEL_ORIGINATE",
        "CHANNEL_UUID",
        "CHANNEL_OUTGOING",
        "CHANNEL_PARK",
        "CHANNEL_PROGRESS",
        "CHANNEL_PROGRESS_MEDIA",
        "CHANNEL_STATE",
        "CHANNEL_UNBRIDGE",
        "CHANNEL_UNPARK",
        "DETECTED_SPEECH",
        "DTMF",
        "TALK",
        "NOTALK",
    }
)
FORMATS = ("plain", "json", "xml")


def encode_event_xml(headers: Headers, body: str = "") -> bytes:
    lines = ["<event>", "  <headers>"]
    lines += [f"    <{name}>{escape(str(value))}</{name}>" for name, value in headers]
    lines.append("  </headers>")
    if body:
        lines.append(f"  <body>{escape(body)}</body>")
    lines.append("</event>")
    return wire.frame([("Content-Type", "text/event-xml")], "\n".join(lines).encode())


ENCODERS = {
    "plain": wire.encode_event_plain,
    "json": wire.encode_event_json,
    "xml": encode_event_xml,
}


def api_frame(body: str) -> bytes:
    data = body.encode()
    head = wire.frame([("Content-Type", "api/response"), ("Content-Length", str(len(data)))])
    return head + data


def goodbye(session: SimChannel | None = None) -> bytes:
    headers = [("Content-Type", "text/disconnect-notice")]
    if session is not None:
        headers += [
            ("Controlled-Session-UUID", session.uuid),
            ("Content-Disposition", "disconnect"),
        ]
    headers.append(("Content-Length", str(len(GOODBYE))))
    return wire.frame(headers) + GOODBYE


class EslConnection:
    """One event-socket connection. ``session`` is set for an outbound (socket app) one."""

    def __init__(
        self,
        sim: Any,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        session: SimChannel | None = None,
        mode: str = "async",
        control: str = "full",
    ):
        self.sim = sim
        self.reader = reader
        self.writer = writer
        self.session = session
        self.outbound = session is not None
        self.mode = mode
        self.control = control
        self.authed = self.outbound
        self.connected = False
        self.format = "plain"
        self.events: set[str] = set()
        self.all_events = False
        self.custom: set[str] = set()
        self.filters: list[tuple[str, str]] = []
        self.myevents: str | None = None
        self.linger = False
        self.linger_time = -1
        self.closed = asyncio.Event()
        self._hold = 0
        self._held: list[bytes] = []
        self._close_after_flush = False
        self.peer = writer.get_extra_info("peername")

    # --- output -------------------------------------------------------------------------------

    def write(self, data: bytes, *, now: bool = False) -> None:
        """Send ``data``; while a command runs, events wait until its reply is out."""
        if self.closed.is_set():
            return
        if self._hold and not now:
            self._held.append(data)
            return
        try:
            self.writer.write(data)
        except (ConnectionError, RuntimeError, OSError):
            self.abort()

    def _flush(self) -> None:
        held, self._held = self._held, []
        for data in held:
            self.write(data)
        if self._close_after_flush:
            self.close()

    def send_and_close(self, data: bytes) -> None:
        self.write(data)
        if self._hold:
            self._close_after_flush = True
        else:
            self.close()

    def reply(self, text: str, *extra: tuple[str, str]) -> None:
        reply = wire.frame([("Content-Type", "command/reply"), ("Reply-Text", text), *extra])
        self.write(reply, now=True)

    def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        with contextlib.suppress(ConnectionError, RuntimeError, OSError):
            self.writer.close()

    def abort(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        transport = self.writer.transport
        if transport is not None:
            transport.abort()

    # --- events -------------------------------------------------------------------------------

    def wants(self, name: str, subclass: str | None, uuid: str | None, headers: Headers) -> bool:
        if not self.authed or self.closed.is_set():
            return False
        if self.myevents is not None and uuid != self.myevents:
            return False
        if not self.all_events:
            if name not in self.events:
                return False
            if name == "CUSTOM" and subclass not in self.custom:
                return False
        if self.filters:
            return any(_filter_match(h, v, headers) for h, v in self.filters)
        return True

    def deliver(self, data: dict[str, bytes], headers: Headers, body: str) -> None:
        encoded = data.get(self.format)
        if encoded is None:
            encoded = data[self.format] = ENCODERS[self.format](headers, body)
        self.write(encoded)

    # --- input --------------------------------------------------------------------------------

    async def run(self) -> None:
        if not self.outbound:
            self.write(wire.frame([("Content-Type", "auth/request")]))
        parser = wire.CommandParser()
        try:
            while not self.closed.is_set():
                data = await self.reader.read(65536)
                if not data:
                    break
                # Fed one blank-line-terminated piece at a time, so that a malformed command
                # costs only itself: the parser starts afresh at the next piece.
                pieces = data.split(b"\n\n")
                for index, piece in enumerate(pieces):
                    if index < len(pieces) - 1:
                        piece += b"\n\n"
                    try:
                        commands = parser.feed(piece)
                    except ValueError as exc:
                        log.warning("ESL %s: malformed command discarded: %s", self.peer, exc)
                        parser = wire.CommandParser()
                        self.reply("-ERR command not found")
                        continue
                    for line, headers, body in commands:
                        if self.closed.is_set():
                            return
                        await self.dispatch(line, headers, body)
                if len(parser._buffer) > MAX_BUFFER:
                    log.warning(
                        "ESL %s: over %d bytes without a command; closing", self.peer, MAX_BUFFER
                    )
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            self.close()

    async def dispatch(self, line: str, headers: wire.Headers, body: bytes) -> None:
        self._hold += 1
        try:
            await self.handle(line, headers, body)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("ESL %s: command %r failed", self.peer, line)
            self.reply("-ERR command failed")
        finally:
            self._hold -= 1
            if not self._hold:
                self._flush()

    async def handle(self, line: str, headers: wire.Headers, body: bytes) -> None:
        command, _, rest = line.partition(" ")
        command = command.lower()
        rest = rest.strip()
        if self.outbound and command == "connect":
            self.connected = True
            assert self.session is not None
            reply = connect_reply_headers(self.sim.factory, self.session, self.mode, self.control)
            self.write(wire.encode_connect_reply(reply), now=True)
            return
        if not self.authed:
            if command == "auth":
                if rest == self.sim.password:
                    self.authed = True
                    self.reply("+OK accepted")
                else:
                    log.info("ESL %s: bad password", self.peer)
                    self.reply("-ERR invalid")
                    self.send_and_close(goodbye())
            else:
                self.reply("-ERR command not found")
            return
        method = getattr(self, f"cmd_{command}", None)
        if method is None or not command.isidentifier():
            self.reply("-ERR command not found")
            return
        await method(rest, headers, body)

    # --- commands -----------------------------------------------------------------------------

    async def cmd_auth(self, rest: str, headers: wire.Headers, body: bytes) -> None:
        self.reply("+OK accepted")

    async def cmd_event(self, rest: str, headers: wire.Headers, body: bytes) -> None:
        words = rest.split()
        fmt = "plain"
        if words and words[0].lower() in FORMATS:
            fmt = words.pop(0).lower()
        if not words:
            self.reply("-ERR no keywords supplied")
            return
        in_custom = False
        for word in words:
            if in_custom:
                self.custom.add(word)
                continue
            name = word.upper()
            if name == "CUSTOM":
                in_custom = True
                self.events.add(name)
            elif name == "ALL":
                self.all_events = True
            else:
                self.events.add(name)
        self.format = fmt
        self.reply(f"+OK event listener enabled {fmt}")

    async def cmd_nixevent(self, rest: str, headers: wire.Headers, body: bytes) -> None:
        for word in rest.split():
            name = word.upper()
            if name == "ALL":
                self.all_events = False
                self.events.clear()
            self.events.discard(name)
            self.custom.discard(word)
        self.reply("+OK events nixed")

    async def cmd_noevents(self, rest: str, headers: wire.Headers, body: bytes) -> None:
        self.events.clear()
        self.custom.clear()
        self.all_events = False
        self.reply("+OK no longer listening for events")

    async def cmd_filter(self, rest: str, headers: wire.Headers, body: bytes) -> None:
        words = rest.split(None, 2)
        if words and words[0].lower() == "delete":
            name = words[1] if len(words) > 1 else ""
            value = words[2] if len(words) > 2 else ""
            if name.lower() == "all":
                self.filters.clear()
            else:
                self.filters = [
                    (h, v) for h, v in self.filters if not (h == name and (not value or v == value))
                ]
            self.reply(f"+OK filter deleted. [{name}]=[{value}]")
            return
        if len(words) < 2:
            self.reply("-ERR invalid syntax")
            return
        name, value = words[0], rest.split(None, 1)[1]
        self.filters.append((name, value))
        self.reply(f"+OK filter added. [{name}]=[{value}]")

    async def cmd_myevents(self, rest: str, headers: wire.Headers, body: bytes) -> None:
        words = rest.split()
        fmt = "plain"
        if words and words[-1].lower() in FORMATS:
            fmt = words.pop().lower()
        if self.outbound:
            assert self.session is not None
            uuid = self.session.uuid
        elif words:
            uuid = words[0]
        else:
            self.reply("-ERR invalid syntax")
            return
        self.myevents = uuid
        self.events |= MYEVENTS
        self.format = fmt
        self.reply("+OK Events Enabled")

    async def cmd_divert_events(self, rest: str, headers: wire.Headers, body: bytes) -> None:
        on = rest.lower() in ("on", "true", "yes")
        self.reply("+OK events diverted" if on else "+OK events not diverted")

    async def cmd_linger(self, rest: str, headers: wire.Headers, body: bytes) -> None:
        self.linger = True
        if rest.strip().lstrip("-").isdigit():
            self.linger_time = int(rest)
        self.reply("+OK will linger")

    async def cmd_nolinger(self, rest: str, headers: wire.Headers, body: bytes) -> None:
        self.linger = False
        self.reply("+OK will not linger")

    async def cmd_log(self, rest: str, headers: wire.Headers, body: bytes) -> None:
        level = rest or "debug"
        self.reply(f"+OK log level {level} [7]")

    async def cmd_nolog(self, rest: str, headers: wire.Headers, body: bytes) -> None:
        self.reply("+OK no longer logging")

    async def cmd_resume(self, rest: str, headers: wire.Headers, body: bytes) -> None:
        self.reply("+OK")

    async def cmd_exit(self, rest: str, headers: wire.Headers, body: bytes) -> None:
        self.reply("+OK bye")
        self.send_and_close(goodbye(self.session))

    async def cmd_api(self, rest: str, headers: wire.Headers, body: bytes) -> None:
        self.write(api_frame(await self.sim.api(rest)), now=True)

    async def cmd_bgapi(self, rest: str, headers: wire.Headers, body: bytes) -> None:
        job_uuid = header(headers, "Job-UUID") or new_uuid()
        self.reply(f"+OK Job-UUID: {job_uuid}", ("Job-UUID", job_uuid))
        self.sim.background_job(rest, job_uuid)

    async def cmd_sendmsg(self, rest: str, headers: wire.Headers, body: bytes) -> None:
        uuid = rest.split()[0] if rest else (self.session.uuid if self.session else "")
        ch = self.sim._channels.get(uuid)
        if ch is None:
            self.reply(f"-ERR invalid session id [{uuid}]")
            return
        self.reply(self.sim.sendmsg(ch, headers, body))

    async def cmd_sendevent(self, rest: str, headers: wire.Headers, body: bytes) -> None:
        name = (rest.split() or ["CUSTOM"])[0].upper()
        event_uuid = new_uuid()
        fired = self.sim.factory.base(name)
        fired += [(k, v) for k, v in headers.items if k.lower() != "content-length"]
        self.sim.emit(fired, body.decode("utf-8", "replace"))
        self.reply(f"+OK {event_uuid}")


def _filter_match(name: str, value: str, headers: Headers) -> bool:
    regex = len(value) > 1 and value.startswith("/") and value.endswith("/")
    for key, actual in headers:
        if key.lower() != name.lower():
            continue
        if regex:
            try:
                if re.search(value[1:-1], actual):
                    return True
            except re.error:
                return False
        elif actual == value:
            return True
    return False


class EslServer:
    """Mixed into ``Simulator``: the listening socket, fan-out of events, outbound sockets."""

    factory: EventFactory
    book: ScriptBook
    password: str
    _channels: dict[str, SimChannel]
    _inbound: set[EslConnection]
    _outbound: set[EslConnection]
    _tasks: set[asyncio.Task[Any]]

    if TYPE_CHECKING:

        async def api(self, line: str) -> str: ...

    def _track(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = EslConnection(self, reader, writer)
        log.debug("ESL client connected from %s", conn.peer)
        self._inbound.add(conn)
        try:
            await conn.run()
        finally:
            self._inbound.discard(conn)
            log.debug("ESL client %s gone", conn.peer)

    def emit(self, headers: Headers, body: str = "") -> None:
        """Send an event to every connection subscribed to it."""
        name = headers[0][1]
        subclass = uuid = None
        for key, value in headers:
            if key == "Event-Subclass":
                subclass = value
            elif key == "Unique-ID":
                uuid = value
                break
        encoded: dict[str, bytes] = {}
        for conn in list(self._inbound) + list(self._outbound):
            if conn.wants(name, subclass, uuid, headers):
                conn.deliver(encoded, headers, body)

    def background_job(self, command: str, job_uuid: str) -> None:
        self._track(self._run_job(command, job_uuid))

    async def _run_job(self, command: str, job_uuid: str) -> None:
        result = await self.api(command)
        name, _, arg = command.strip().partition(" ")
        headers = self.factory.base("BACKGROUND_JOB")
        headers += [("Job-UUID", job_uuid), ("Job-Command", name)]
        if arg.strip():
            headers.append(("Job-Command-Arg", arg.strip()))
        self.emit(headers, result)

    # --- outbound socket (the ``socket`` application) ------------------------------------------

    async def open_outbound(
        self, ch: SimChannel, host: str, port: int, mode: str, control: str
    ) -> EslConnection | None:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
        except (OSError, TimeoutError) as exc:
            log.warning("%s: socket app cannot connect to %s:%s: %s", ch.name, host, port, exc)
            return None
        conn = EslConnection(self, reader, writer, session=ch, mode=mode, control=control)
        ch.socket = conn
        self._outbound.add(conn)

        async def serve() -> None:
            try:
                await conn.run()
            finally:
                self._outbound.discard(conn)

        self._track(serve())
        return conn

    def session_ended(self, ch: SimChannel, conn: EslConnection, phase: str) -> None:
        """The controlled channel is hanging up: disconnect notice now, or after the events
        with ``linger``."""
        if conn.closed.is_set():
            return
        if phase == "hangup" and not conn.linger:
            conn.send_and_close(goodbye(ch))
        elif phase == "complete" and conn.linger:
            notice = [
                ("Content-Type", "text/disconnect-notice"),
                ("Controlled-Session-UUID", ch.uuid),
                ("Content-Disposition", "linger"),
                ("Channel-Name", ch.name),
                ("Linger-Time", str(conn.linger_time)),
                ("Content-Length", "0"),
            ]
            conn.write(wire.frame(notice))
            delay = conn.linger_time if conn.linger_time > 0 else 0.2
            asyncio.get_running_loop().call_later(
                min(delay, 5.0), lambda: conn.send_and_close(goodbye(ch))
            )
