"""Asyncio client for FreeSWITCH's inbound event socket (we connect to its port 8021).

One client per FreeSWITCH node, three tasks:

- the reader owns the socket: it parses messages, hands each reply to the oldest command
  waiting for one (FreeSWITCH answers a connection's commands in order) and queues events;
  it never runs handlers, so a slow handler cannot hold up replies;
- the dispatcher feeds the queued events to ``on_event`` one at a time, in arrival order;
- the supervisor connects, authenticates, subscribes, re-applies filters, runs
  ``on_connect`` (the daemon reconciles live calls there) and, when the link dies (EOF,
  disconnect notice, no bytes for ``heartbeat_timeout``), reconnects with jittered backoff.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import re
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass

from callcenter.telephony import wire

log = logging.getLogger(__name__)

DEFAULT_EVENTS = (
    "CHANNEL_CREATE",
    "CHANNEL_ANSWER",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "BACKGROUND_JOB",
    "DTMF",
    "RECORD_START",
    "RECORD_STOP",
    "PLAYBACK_START",
    "PLAYBACK_STOP",
    "CHANNEL_EXECUTE_COMPLETE",
    "HEARTBEAT",
)
READ_SIZE = 65536
# BACKGROUND_JOB results kept for bgapi_result() calls that come after the event.
JOB_RESULTS_KEPT = 10_000
_CORE_EVENT = re.compile(r"[A-Z0-9_]+")  # switch_event_types_t names; subclasses are not


class EslError(Exception):
    """FreeSWITCH answered ``-ERR``; ``reply`` holds its text."""

    def __init__(self, reply: str):
        super().__init__(reply)
        self.reply = reply


class EslNotConnected(EslError):
    """A command while the link is down, or whose link dropped before its reply came."""


@dataclass
class EslConfig:
    host: str = "127.0.0.1"
    port: int = 8021
    password: str = "ClueCon"
    name: str = "fs1"
    events: tuple[str, ...] = DEFAULT_EVENTS
    heartbeat_timeout: float = 60.0  # silence longer than this = dead link
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    command_timeout: float = 10.0


def messages_from(parser: wire.StreamParser, data: bytes, label: str) -> list[wire.Message]:
    """Feed ``data``; a bad block is logged with its bytes and skipped, the link stays up."""
    while True:
        try:
            return parser.feed(data)
        except wire.ProtocolError as exc:
            log.warning("%s: skipped unparseable message (%s): %r", label, exc, exc.raw[:2000])
            # The parser dropped the bad block and kept what came before it: carry on.
            data = b""


def check_reply(reply: wire.Message) -> wire.Message:
    """Raise EslError for a ``-ERR`` command reply or api response."""
    text = reply.reply_text if reply.content_type == wire.COMMAND_REPLY else reply.text
    if text.startswith("-ERR"):
        raise EslError(text.strip())
    return reply


async def wait_keyed(waiters: dict[str, list[asyncio.Future]], key: str, timeout: float | None):
    """Wait for whoever resolves the futures filed under ``key``; tidy up however it ends."""
    future: asyncio.Future = asyncio.get_running_loop().create_future()
    pending = waiters.setdefault(key, [])
    pending.append(future)
    try:
        return await asyncio.wait_for(future, timeout)
    finally:
        if future in pending:
            pending.remove(future)
        if not pending:
            waiters.pop(key, None)


def event_command(events: Iterable[str], fmt: str = "plain") -> str:
    """``event plain A B CUSTOM x::y``. FreeSWITCH reads every name after CUSTOM as a custom
    subclass, so core events (upper-case names) go first and subclasses (``sofia::register``,
    anything not upper-case) after one CUSTOM, whatever order they were given in."""
    normal: list[str] = []
    custom: list[str] = []
    for name in events:
        target = normal if _CORE_EVENT.fullmatch(name) else custom
        if name != "CUSTOM" and name not in target:
            target.append(name)
    return " ".join(["event", fmt, *normal, *(["CUSTOM", *custom] if custom else [])])


class CommandQueue:
    """The commands of one connection. FreeSWITCH answers them in order, so a reply belongs to
    the oldest command still waiting; the lock keeps one in flight so none can interleave."""

    def __init__(
        self,
        writer: asyncio.StreamWriter,
        timeout: float,
        label: str,
        error: type[EslError] = EslNotConnected,  # raised once the connection is gone
    ):
        self.writer = writer
        self.timeout = timeout
        self.label = label
        self.error = error
        self.gone: str | None = None
        self._lock = asyncio.Lock()
        self._pending: deque[asyncio.Future[wire.Message]] = deque()

    async def send(self, data: bytes) -> wire.Message:
        async with self._lock:
            if self.gone is not None:
                raise self.error(self.gone)
            future: asyncio.Future[wire.Message] = asyncio.get_running_loop().create_future()
            self._pending.append(future)
            try:
                self.writer.write(data)
                await self.writer.drain()
            except (ConnectionError, OSError) as exc:
                future.cancel()
                raise self.error(f"{self.label}: {exc}") from exc
            # On timeout the cancelled future stays queued and swallows the late reply, so
            # later replies still meet their own commands.
            return await asyncio.wait_for(future, self.timeout)

    def reply(self, message: wire.Message) -> None:
        if not self._pending:
            log.warning("%s: reply with no command waiting: %r", self.label, message)
        elif (future := self._pending.popleft()).done():
            log.info("%s: late reply to a timed-out command dropped", self.label)
        else:
            future.set_result(message)

    def fail(self, reason: str) -> None:
        """The connection is gone: waiting and later commands raise ``error(reason)``."""
        self.gone = reason
        while self._pending:
            future = self._pending.popleft()
            if not future.done():
                future.set_exception(self.error(reason))


class _Link(CommandQueue):
    """One TCP connection to FreeSWITCH: its commands, its auth prompt, its end."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, client):
        super().__init__(writer, client.config.command_timeout, client.label)
        self.reader = reader
        self.auth_request: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed = asyncio.Event()

    def close(self, reason: str) -> None:
        if not self.closed.is_set():
            self.closed.set()
            self.writer.close()
            self.fail(f"link lost: {reason}")
            if not self.auth_request.done():
                self.auth_request.set_exception(EslNotConnected(f"link lost: {reason}"))


class EslClient:
    """One FreeSWITCH node: commands, events in order, and a link that mends itself."""

    def __init__(
        self,
        config: EslConfig,
        on_event: Callable[[wire.Event], Awaitable[None] | None] | None = None,
        on_connect: Callable[[EslClient], Awaitable[None]] | None = None,
    ):
        self.config = config
        self.name = config.name
        self.label = f"esl {config.name}"
        self._on_event = on_event
        self._on_connect = on_connect
        self._link: _Link | None = None  # set once authenticated
        self._ready = asyncio.Event()
        self._queue: asyncio.Queue[wire.Event] = asyncio.Queue()
        self._events = list(config.events)
        self._filters: list[tuple[str, str]] = []
        self._jobs: OrderedDict[str, str] = OrderedDict()
        self._job_waiters: dict[str, list[asyncio.Future[str]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._attempt = 0

    @property
    def connected(self) -> bool:
        """Authenticated, subscribed, filters applied and on_connect done."""
        return self._ready.is_set()

    async def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._supervise(), name=f"esl-{self.name}"),
                asyncio.create_task(self._dispatch(), name=f"esl-{self.name}-events"),
            ]

    async def wait_connected(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def stop(self) -> None:
        # Cancels a handler that is running; queued events stay for a later start().
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for futures in self._job_waiters.values():
            for future in futures:
                if not future.done():
                    future.set_exception(EslNotConnected("client stopped"))

    # --- commands ------------------------------------------------------------------------

    async def request(self, data: bytes) -> wire.Message:
        """Send one encoded command (``wire.command``) and return its reply, unchecked."""
        if self._link is None:
            raise EslNotConnected(f"{self.name} is not connected")
        return await self._link.send(data)

    async def api(self, command: str) -> str:
        reply = await self.request(wire.command(f"api {command}"))
        return check_reply(reply).text

    async def bgapi(self, command: str, job_uuid: str | None = None) -> str:
        # Our own Job-UUID: the caller can record it before FreeSWITCH even answers.
        job_uuid = job_uuid or str(uuid.uuid4())
        check_reply(await self.request(wire.command(f"bgapi {command}", [("Job-UUID", job_uuid)])))
        return job_uuid

    async def bgapi_result(self, job_uuid: str, timeout: float | None = None) -> str:
        if job_uuid in self._jobs:
            return self._jobs[job_uuid]
        return await wait_keyed(self._job_waiters, job_uuid, timeout)

    async def sendmsg(self, uuid: str, call_command: str, **fields: str) -> wire.Message:
        return check_reply(await self.request(wire.sendmsg(uuid, call_command, **fields)))

    async def filter(self, header: str, value: str) -> None:
        # Remembered first, so a filter asked for while the link is down applies on connect.
        if (header, value) not in self._filters:
            self._filters.append((header, value))
        check_reply(await self.request(wire.command(f"filter {header} {value}")))

    async def subscribe(self, events: Iterable[str]) -> None:
        names = list(events)
        self._events += [name for name in names if name not in self._events]
        check_reply(await self.request(wire.command(event_command(names))))

    # --- connection ----------------------------------------------------------------------

    def _backoff(self) -> float:
        cap = self.config.backoff_initial * 2 ** min(self._attempt, 30)
        self._attempt += 1
        return random.uniform(0, min(self.config.backoff_max, cap))  # full jitter

    async def _supervise(self) -> None:
        while True:
            try:
                await self._session()
            except (OSError, TimeoutError, EslError) as exc:
                log.warning("esl %s: %s", self.name, exc or type(exc).__name__)
            except Exception:
                log.exception("esl %s: session failed", self.name)
            delay = self._backoff()
            log.info("esl %s: reconnecting in %.2f s", self.name, delay)
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        cfg = self.config
        async with asyncio.timeout(cfg.command_timeout):
            reader, writer = await asyncio.open_connection(cfg.host, cfg.port)
        link = _Link(reader, writer, self)
        reader_task = asyncio.create_task(self._read(link), name=f"esl-{self.name}-reader")
        try:
            await self._setup(link)
            await link.closed.wait()
        finally:
            self._ready.clear()
            if self._link is link:
                self._link = None
            link.close("session over")
            reader_task.cancel()
            await asyncio.gather(reader_task, return_exceptions=True)
            with suppress(OSError):
                await writer.wait_closed()

    async def _setup(self, link: _Link) -> None:
        cfg = self.config
        async with asyncio.timeout(cfg.command_timeout):
            await link.auth_request  # FreeSWITCH speaks first
        reply = await link.send(wire.command(f"auth {cfg.password}"))
        if not reply.reply_text.startswith("+OK"):
            log.error("esl %s: %s:%s refused our password", self.name, cfg.host, cfg.port)
            raise EslError(reply.reply_text or "auth refused")
        self._attempt = 0
        self._link = link
        check_reply(await link.send(wire.command(event_command(self._events))))
        for header, value in self._filters:
            check_reply(await link.send(wire.command(f"filter {header} {value}")))
        if self._on_connect is not None:
            try:
                await self._on_connect(self)
            except Exception:
                log.exception("esl %s: on_connect failed", self.name)
        if not link.closed.is_set():
            self._ready.set()
            log.info("esl %s: connected to %s:%s", self.name, cfg.host, cfg.port)

    async def _read(self, link: _Link) -> None:
        parser = wire.StreamParser()
        reason = "closed by FreeSWITCH"
        try:
            while True:
                try:
                    async with asyncio.timeout(self.config.heartbeat_timeout):
                        data = await link.reader.read(READ_SIZE)
                except TimeoutError:
                    reason = f"nothing heard for {self.config.heartbeat_timeout} s"
                    log.warning("esl %s: %s, dropping the link", self.name, reason)
                    return
                if not data:
                    return
                for message in messages_from(parser, data, self.label):
                    if not self._handle(link, message):
                        reason = message.content_type
                        return
        except (ConnectionError, OSError) as exc:
            reason = str(exc)
        finally:
            link.close(reason)

    def _handle(self, link: _Link, message: wire.Message) -> bool:
        """Route one message; False when FreeSWITCH is ending the connection."""
        ctype = message.content_type
        if ctype in (wire.EVENT_PLAIN, wire.EVENT_JSON):
            self._event(message)
        elif ctype in (wire.COMMAND_REPLY, wire.API_RESPONSE):
            link.reply(message)
        elif ctype == wire.AUTH_REQUEST:
            if not link.auth_request.done():
                link.auth_request.set_result(None)
        elif ctype in (wire.DISCONNECT_NOTICE, wire.RUDE_REJECTION):
            log.warning("esl %s: %s: %s", self.name, ctype, message.text.strip())
            return False
        else:
            log.debug("esl %s: ignored a %r message", self.name, ctype)
        return True

    def _event(self, message: wire.Message) -> None:
        try:
            event = message.event()
        except wire.ProtocolError as exc:
            log.warning("esl %s: skipped bad event (%s): %r", self.name, exc, exc.raw[:2000])
            return
        if event.name == "BACKGROUND_JOB":
            self._job_done(event)
        if self._on_event is not None:
            self._queue.put_nowait(event)

    def _job_done(self, event: wire.Event) -> None:
        job_uuid = event.get("Job-UUID")
        if not job_uuid:
            return
        self._jobs[job_uuid] = event.body
        while len(self._jobs) > JOB_RESULTS_KEPT:
            self._jobs.popitem(last=False)
        for future in self._job_waiters.pop(job_uuid, ()):
            if not future.done():
                future.set_result(event.body)

    async def _dispatch(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                result = self._on_event(event) if self._on_event else None
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("esl %s: on_event failed on %s %s", self.name, event.name, event.uuid)


class EslPool:
    """Several FreeSWITCH nodes at once, by name."""

    def __init__(self, clients: Iterable[EslClient]):
        self._clients: dict[str, EslClient] = {}
        for client in clients:
            if client.name in self._clients:
                raise ValueError(f"two FreeSWITCH nodes named {client.name!r}")
            self._clients[client.name] = client

    def __getitem__(self, name: str) -> EslClient:
        return self._clients[name]

    def __iter__(self) -> Iterator[EslClient]:
        return iter(self._clients.values())

    def __len__(self) -> int:
        return len(self._clients)

    async def start(self) -> None:
        for client in self:
            await client.start()

    async def stop(self) -> None:
        await asyncio.gather(*(client.stop() for client in self))

    async def wait_connected(self, timeout: float | None = None) -> None:
        await asyncio.gather(*(client.wait_connected(timeout) for client in self))
