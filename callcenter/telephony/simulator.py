"""A softswitch simulator: an asyncio TCP server speaking FreeSWITCH's event socket.

Tests and ``make run`` use it instead of FreeSWITCH. It answers with the bytes of the captures
in ``shared/freeswitch-wire`` (framing, header sets and order, URL-encoding, replies) and
simulates calls to scripted patients: answer / busy / no answer / rejected / invalid number,
DTMF, speech from a WAV file, and real WAV recordings (stereo: patient left, clinic right).

Dial strings: ``loopback/<number>`` (with the loopback B-leg and its events, as FreeSWITCH
has), ``sofia/gateway/<gw>/<number>`` (one leg, as towards a carrier), ``user/<ext>`` (an
agent's phone, answers after 0.1 s), ``error/<cause>``. Apps: ``&park()``, ``&bridge(...)``,
``&socket(host:port async full)`` (the simulator then connects to that address as
FreeSWITCH's outbound socket), and ``playback``, ``play_and_get_digits``, ``sleep``,
``hangup``... through ``sendmsg``.

Times in scripts are simulated seconds; ``time_scale`` < 1 makes them pass faster (0.05: a
10 s call takes 0.5 s), and event timestamps, ``billsec`` and recording lengths follow the
simulated clock. Network I/O and ``heartbeat_interval`` are real time.

Run it alone::

    python -m callcenter.telephony.simulator --port 8021 --password ClueCon --scripts s.json

``s.json`` maps numbers to PatientScript fields, plus an optional ``default``::

    {"default": {"outcome": "answer", "hangup_after": 20},
     "+8613800138000": {"outcome": "busy"},
     "5550100": {"speech_wav": "speech.wav", "dtmf": [[3.0, "1#"]]}}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
from array import array
from collections import Counter
from typing import Any

from .sim.api import ApiCommands
from .sim.apps import AppRunner
from .sim.calls import CallControl
from .sim.channel import SimChannel
from .sim.events import Clock, EventFactory
from .sim.script import PatientScript, ScriptBook, load_scripts
from .sim.server import EslConnection, EslServer

__all__ = ["PatientScript", "SimChannel", "Simulator", "main"]

log = logging.getLogger(__name__)


class Simulator(EslServer, ApiCommands, AppRunner, CallControl):
    """An event-socket server that behaves like FreeSWITCH 1.10 towards its clients."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        password: str = "ClueCon",
        *,
        scripts: dict[str, PatientScript] | None = None,
        default_script: PatientScript | None = None,
        heartbeat_interval: float = 20.0,
        time_scale: float = 1.0,
        max_call_seconds: float = 30.0,
    ):
        self.host = host
        self.port = port
        self.password = password
        self.heartbeat_interval = heartbeat_interval
        self.max_call_seconds = max_call_seconds
        self.clock = Clock(time_scale)
        self.factory = EventFactory(
            self.clock, socket.gethostname() or "localhost", "127.0.0.1", "::1"
        )
        self.book = ScriptBook(scripts, default_script)
        self._channels: dict[str, SimChannel] = {}
        self._inbound: set[EslConnection] = set()
        self._outbound: set[EslConnection] = set()
        self._tasks: set[asyncio.Task[Any]] = set()  # jobs and outbound sockets
        self._accept_tasks: set[asyncio.Task[Any]] = set()  # inbound connections
        self._speech_cache: dict[str, array] = {}
        self.dialled: Counter[str] = Counter()  # originates per number, for tests to check
        self._session_seq = 0
        self._peak = 0
        self._started = self.clock.now()
        self._server: asyncio.Server | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def time_scale(self) -> float:
        return self.clock.scale

    async def start(self) -> int:
        """Listen; returns the bound port."""
        self._server = await asyncio.start_server(self._accept_tracked, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._started = self.clock.now()
        if self.heartbeat_interval > 0:
            self._heartbeat = asyncio.get_running_loop().create_task(self._heartbeats())
        log.info("softswitch simulator listening on %s:%s", self.host, self.port)
        return self.port

    async def _accept_tracked(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._accept_tasks.add(task)
            task.add_done_callback(self._accept_tasks.discard)
        with contextlib.suppress(asyncio.CancelledError):
            await self._accept(reader, writer)

    async def stop(self) -> None:
        """Close the listener and every connection; end all calls without further events."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        if self._server is not None:
            self._server.close()
        for conn in list(self._inbound) + list(self._outbound):
            conn.abort()
        for ch in list(self._channels.values()):
            ch.hungup = True
            ch.cancel_tasks()
            ch.done.set()
        self._channels.clear()
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        accepts = [t for t in self._accept_tasks if t is not current]
        if tasks or accepts:
            await asyncio.wait(tasks + accepts, timeout=2)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    def script(self, number: str, script: PatientScript) -> None:
        """Script (or re-script) the patient at ``number``."""
        self.book.set(number, script)

    @property
    def channels(self) -> dict[str, SimChannel]:
        """Live channels by uuid (a copy)."""
        return dict(self._channels)

    def drop_clients(self) -> None:
        """Close every inbound event-socket connection abruptly (calls go on)."""
        for conn in list(self._inbound):
            conn.abort()

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            self.emit(self.heartbeat_headers())


async def _serve(args: argparse.Namespace) -> None:
    scripts, default = ({}, None)
    if args.scripts:
        scripts, default = load_scripts(args.scripts)
    sim = Simulator(
        args.host,
        args.port,
        args.password,
        scripts=scripts,
        default_script=default,
        heartbeat_interval=args.heartbeat,
        time_scale=args.time_scale,
        max_call_seconds=args.max_call_seconds,
    )
    port = await sim.start()
    print(f"softswitch simulator listening on {args.host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m callcenter.telephony.simulator",
        description="FreeSWITCH event-socket simulator with scripted patients.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8021)
    parser.add_argument("--password", default="ClueCon")
    parser.add_argument("--scripts", help="JSON file: numbers -> PatientScript fields")
    parser.add_argument("--heartbeat", type=float, default=20.0, help="seconds between HEARTBEATs")
    parser.add_argument("--time-scale", type=float, default=1.0, help="< 1 runs calls faster")
    parser.add_argument(
        "--max-call-seconds", type=float, default=30.0, help="patients hang up after this"
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
