"""Outbound event socket: FreeSWITCH connects to us, one TCP connection per call.

The dialplan or an originate runs ``socket(host:port async full)``; ``serve`` accepts those
connections and runs a handler (the IVR) with an OutboundSession. In async mode commands do not
block the channel: ``execute`` sends ``event-lock`` plus our own ``Event-UUID`` and waits for
the CHANNEL_EXECUTE_COMPLETE whose ``Application-UUID`` is that id (capture 11). When the
channel hangs up FreeSWITCH sends ``text/disconnect-notice``; with ``linger`` it still sends
the remaining events before closing, so ``events()`` ends only once the socket closes.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import suppress

from callcenter.telephony import wire
from callcenter.telephony.esl import (
    READ_SIZE,
    CommandQueue,
    EslError,
    check_reply,
    messages_from,
    wait_keyed,
)

log = logging.getLogger(__name__)

COMPLETIONS_KEPT = 1000  # CHANNEL_EXECUTE_COMPLETE events kept for wait_execute()


class SessionHungUp(EslError):
    """The channel hung up, or FreeSWITCH closed the socket."""


class OutboundSession:
    """One call's socket. Create it inside the event loop (``serve`` does): it starts reading."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        command_timeout: float = 10.0,
    ):
        self._reader = reader
        self._writer = writer
        self.channel = wire.Headers()  # the decoded connect reply: channel data and variables
        self.hung_up = False  # disconnect notice seen, or socket closed
        self.closed = False
        self.disconnect_notice: wire.Message | None = None
        self._label = f"outbound {writer.get_extra_info('peername')}"
        self._commands = CommandQueue(writer, command_timeout, self._label, SessionHungUp)
        self._events: asyncio.Queue[wire.Event | None] = asyncio.Queue()
        self._completed: OrderedDict[str, wire.Event] = OrderedDict()
        self._waiters: dict[str, list[asyncio.Future[wire.Event]]] = {}
        self._task = asyncio.create_task(self._read(), name=self._label)

    # --- the channel -----------------------------------------------------------------------

    @property
    def channel_uuid(self) -> str | None:
        return self.channel.get("Unique-ID") or self.channel.get("Channel-Unique-ID")

    def get(self, name: str, default: str | None = None) -> str | None:
        """A header of the connect reply (``Caller-Destination-Number``, ``variable_x``...)."""
        return self.channel.get(name, default)

    def variable(self, name: str, default: str | None = None) -> str | None:
        return self.channel.get(f"variable_{name}", default)

    @property
    def variables(self) -> dict[str, str]:
        items = self.channel.as_dict().items()
        return {k.removeprefix("variable_"): v for k, v in items if k.startswith("variable_")}

    # --- commands ----------------------------------------------------------------------------

    async def connect(self) -> wire.Headers:
        # The reply is one bare header block (no Content-Length) with every value URL-encoded.
        reply = await self.request(wire.command("connect"))
        self.channel = wire.connect_reply(reply)
        text = self.channel.get("Reply-Text", "") or ""
        if not text.startswith("+OK"):
            raise EslError(text.strip() or "connect refused")
        return self.channel

    async def myevents(self) -> None:
        check_reply(await self.request(wire.command("myevents")))

    async def linger(self, seconds: int | None = None) -> None:
        line = "linger" if seconds is None else f"linger {seconds}"
        check_reply(await self.request(wire.command(line)))

    async def api(self, command: str) -> str:
        return check_reply(await self.request(wire.command(f"api {command}"))).text

    async def execute(
        self,
        app: str,
        arg: str = "",
        *,
        wait: bool = True,
        timeout: float | None = None,
        event_uuid: str | None = None,
    ) -> wire.Event | None:
        """Run a dialplan app on the channel; with ``wait`` return its CHANNEL_EXECUTE_COMPLETE.

        Without ``wait`` it returns None once FreeSWITCH accepted the command; pass your own
        ``event_uuid`` to ``wait_execute`` on it later.
        """
        if self.hung_up:
            raise SessionHungUp(f"cannot execute {app}: the channel hung up")
        event_uuid = event_uuid or str(uuid.uuid4())
        fields = {"execute_app_name": app}
        if arg:
            fields["execute_app_arg"] = arg
        # event-lock: apps run one after another, in the order we sent them.
        data = wire.sendmsg(None, "execute", **fields, event_lock="true", Event_UUID=event_uuid)
        try:
            check_reply(await self.request(data))
        except EslError as exc:
            # The channel went away before its hangup reached us: the same as hung up.
            if "invalid session id" in str(exc):
                self.hung_up = True
                raise SessionHungUp(f"cannot execute {app}: the channel is gone") from exc
            raise
        if not wait:
            return None
        return await self.wait_execute(event_uuid, timeout)

    async def wait_execute(self, event_uuid: str, timeout: float | None = None) -> wire.Event:
        """The CHANNEL_EXECUTE_COMPLETE of the app sent with ``event_uuid`` (kept if early)."""
        if event_uuid in self._completed:
            return self._completed[event_uuid]
        if self.closed:
            raise SessionHungUp("the socket closed before the application completed")
        return await wait_keyed(self._waiters, event_uuid, timeout)

    async def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        if self.hung_up:
            return  # already gone: nothing to hang up
        check_reply(await self.request(wire.sendmsg(None, "hangup", hangup_cause=cause)))

    async def request(self, data: bytes) -> wire.Message:
        """Send one encoded command and return its reply, unchecked."""
        return await self._commands.send(data)

    # --- events ------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[wire.Event]:
        """Every event in arrival order, until the socket closes."""
        while (event := await self._events.get()) is not None:
            yield event
        self._events.put_nowait(None)  # leave the end mark for any other reader

    async def next_event(
        self, names: str | Iterable[str], timeout: float | None = None
    ) -> wire.Event:
        """The next event with one of ``names`` (others are dropped); SessionHungUp at the end."""
        wanted = {names} if isinstance(names, str) else set(names)
        async with asyncio.timeout(timeout):
            while True:
                event = await self._events.get()
                if event is None:
                    self._events.put_nowait(None)
                    raise SessionHungUp("the socket closed")
                if event.name in wanted:
                    return event

    async def close(self) -> None:
        self._writer.close()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        with suppress(OSError):
            await self._writer.wait_closed()

    # --- reading -----------------------------------------------------------------------------

    async def _read(self) -> None:
        parser = wire.StreamParser()
        try:
            while data := await self._reader.read(READ_SIZE):
                for message in messages_from(parser, data, self._label):
                    self._handle(message)
        except (ConnectionError, OSError) as exc:
            log.info("%s: %s", self._label, exc)
        finally:
            self._closed_down()

    def _handle(self, message: wire.Message) -> None:
        ctype = message.content_type
        if ctype in (wire.EVENT_PLAIN, wire.EVENT_JSON):
            self._event(message)
        elif ctype in (wire.COMMAND_REPLY, wire.API_RESPONSE, ""):
            self._commands.reply(message)
        elif ctype == wire.DISCONNECT_NOTICE:
            # The call is over; with linger the remaining events still follow.
            log.info("%s: disconnect notice (%s)", self._label, message.headers.as_dict())
            self.hung_up = True
            self.disconnect_notice = message
        else:
            log.debug("%s: ignored a %r message", self._label, ctype)

    def _event(self, message: wire.Message) -> None:
        try:
            event = message.event()
        except wire.ProtocolError as exc:
            log.warning("%s: skipped bad event (%s): %r", self._label, exc, exc.raw[:2000])
            return
        if event.name == "CHANNEL_HANGUP" and event.get("Unique-ID") == self.channel_uuid:
            self.hung_up = True  # before the disconnect notice: stop sending apps now
        app_uuid = event.get("Application-UUID")
        if event.name == "CHANNEL_EXECUTE_COMPLETE" and app_uuid:
            self._completed[app_uuid] = event
            while len(self._completed) > COMPLETIONS_KEPT:
                self._completed.popitem(last=False)
            for future in self._waiters.pop(app_uuid, ()):
                if not future.done():
                    future.set_result(event)
        self._events.put_nowait(event)

    def _closed_down(self) -> None:
        self.closed = self.hung_up = True
        self._commands.fail("the socket closed")
        for future in (f for futures in self._waiters.values() for f in futures):
            if not future.done():
                future.set_exception(SessionHungUp("the socket closed"))
        self._events.put_nowait(None)


async def serve(
    host: str,
    port: int,
    handler: Callable[[OutboundSession], Awaitable[None]],
    *,
    command_timeout: float = 10.0,
) -> asyncio.Server:
    """Listen for FreeSWITCH's outbound connections; run ``handler`` once per call."""

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = OutboundSession(reader, writer, command_timeout=command_timeout)
        try:
            await handler(session)
        except SessionHungUp as exc:
            log.info("%s: call ended during the handler: %s", session._label, exc)
        except Exception:
            log.exception("%s: handler failed", session._label)
        finally:
            await session.close()

    return await asyncio.start_server(on_connection, host, port)
