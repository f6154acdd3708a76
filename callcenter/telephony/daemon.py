"""The telephony daemon: ESL links, the dialer loop, the command stream, events -> domain.

Database work (dialer, controller) runs on one worker thread, in order, so the asyncio loop
keeps reading the sockets while a transaction commits. State lives in the database: the daemon
can be killed at any moment and started again; on (re)connect it reconciles its calls with
``show channels as json``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote, urlsplit

from flask import Flask
from sqlalchemy import update

from callcenter.extensions import db
from callcenter.models import (
    Campaign,
    CampaignStatus,
    Trunk,
    TrunkStatus,
)
from callcenter.telephony.actions import Action, Bridge, Hangup, Originate, originate_command
from callcenter.telephony.commands import CommandBus
from callcenter.telephony.controller import CallController
from callcenter.telephony.dialer import Dialer, DialSettings
from callcenter.telephony.esl import EslClient, EslConfig, EslError, EslPool
from callcenter.telephony.notifier import CallNotifier
from callcenter.telephony.wire import Event

log = logging.getLogger(__name__)
TRUNK_DOWN_PREFIX = "FreeSWITCH node "
# Seconds a node may be unreachable (starting, reconnecting) before its trunks go down.
TRUNK_GRACE = 3.0
EVENT_BATCH = 200  # events applied in one transaction at most


def parse_nodes(text: str) -> list[EslConfig]:
    """``ESL_NODES``: ``name=esl://:password@host:port`` entries separated by spaces or commas."""
    configs = []
    for item in text.replace(",", " ").split():
        name, _, url = item.rpartition("=") if "=" in item.split("://")[0] else ("fs1", "", item)
        parts = urlsplit(url)
        configs.append(
            EslConfig(
                host=parts.hostname or "127.0.0.1",
                port=parts.port or 8021,
                password=unquote(parts.password or "ClueCon"),
                name=name or "fs1",
            )
        )
    return configs


class TelephonyDaemon:
    def __init__(
        self, app: Flask, configs: list[EslConfig], *, tick: float = 0.2, consumer: str = "daemon-1"
    ):
        self.app = app
        self.tick = tick
        self.consumer = consumer
        jobs = app.extensions["callcenter.jobs"]
        settings = DialSettings.from_config(app.config)
        self.notifier = CallNotifier(jobs.connection)
        self.bus = CommandBus(jobs.connection)
        self.controller = CallController(lambda: db.session, self.notifier, settings, jobs)
        self.dialer = Dialer(lambda: db.session, settings)
        self.pool = EslPool(
            EslClient(c, on_event=self._event_handler(c.name), on_connect=self._reconcile)
            for c in configs
        )
        # Call events have a database thread of their own, so a dialler pass never holds up a
        # screen pop; each thread keeps its own order.
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="telephony-events")
        self._dial_db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="telephony-dialer")
        self._trunk_states: dict[str, bool] = {}
        self._events: asyncio.Queue[tuple[str, Event]] = asyncio.Queue()
        self._sending: set[asyncio.Task] = set()
        self._down_since: dict[str, float] = {}
        self._stopping = asyncio.Event()

    # --- running -------------------------------------------------------------------------

    async def run(self) -> None:
        await self.pool.start()
        await self._in_db(self.bus.ensure_group)
        loops = [
            asyncio.create_task(self._dial_loop()),
            asyncio.create_task(self._command_loop()),
            asyncio.create_task(self._event_loop()),
            asyncio.create_task(self._serve_ivr()),
        ]
        await self._stopping.wait()
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        await asyncio.gather(*self._sending, return_exceptions=True)  # let sent commands finish
        await self.pool.stop()
        self._db.shutdown(wait=True)
        self._dial_db.shutdown(wait=True)

    def stop(self) -> None:
        self._stopping.set()

    # --- IVR server (issue 6) ------------------------------------------------------------

    async def _serve_ivr(self) -> None:
        """Host the IVR's outbound-socket server on IVR_SOCKET_ADDRESS while the daemon runs."""
        from ivr.runner import IvrServer  # the IVR builds on telephony: imported where hosted

        address = self.app.config.get("IVR_SOCKET_ADDRESS") or "127.0.0.1:8084"
        server = IvrServer(self.app, self.execute, self.controller._agent_originate)
        try:
            await server.start(address)
        except OSError:
            log.exception("IVR server cannot listen on %s; IVR calls will fail", address)
        try:
            await asyncio.Event().wait()  # until cancelled by run()
        finally:
            await server.stop()

    async def _in_db(self, func, *args, executor=None):
        """Run ``func`` on a database thread (the events one by default) in an app context."""

        def call():
            with self.app.app_context():
                try:
                    return func(*args)
                finally:
                    db.session.remove()

        return await asyncio.get_running_loop().run_in_executor(executor or self._db, call)

    async def _dial_loop(self) -> None:
        while True:
            try:
                await self._mark_trunks()
                actions = await self._in_db(self.dialer.plan, executor=self._dial_db)
                # Send in the background: the next pass is planned while these are on the wire
                # (each is already committed, so nothing is lost if the daemon stops now).
                for action in actions:
                    task = asyncio.create_task(self._send(action))
                    self._sending.add(task)
                    task.add_done_callback(self._sending.discard)
            except Exception:
                log.exception("dialer pass failed")
            await asyncio.sleep(self.tick)

    async def _command_loop(self) -> None:
        while True:
            try:
                commands = await asyncio.to_thread(self.bus.read, self.consumer, 1000)
                for entry_id, action in commands:
                    await self.execute(action)
                    self.bus.ack(entry_id)
            except Exception:
                log.exception("command stream failed")
                await asyncio.sleep(1)

    # --- switch side ---------------------------------------------------------------------

    async def _send(self, action: Action) -> None:
        try:
            await self.execute(action)
        except Exception:
            log.exception("%s on %s failed", type(action).__name__, action.node)

    async def execute(self, action: Action) -> None:
        client = self.pool[action.node]
        try:
            if isinstance(action, Originate):
                await client.bgapi(originate_command(action), job_uuid=action.uuid)
            elif isinstance(action, Bridge):
                await client.api(f"uuid_bridge {action.uuid} {action.other_uuid}")
            elif isinstance(action, Hangup):
                await client.api(f"uuid_kill {action.uuid} {action.cause}")
        except (EslError, TimeoutError) as exc:
            log.warning("%s on %s failed: %r", type(action).__name__, action.node, exc)
            if isinstance(action, Bridge):
                # Never leave a patient waiting on a line no agent will join.
                await self.execute(Hangup(action.node, action.uuid))
                await self.execute(Hangup(action.node, action.other_uuid))
            if isinstance(action, Originate):
                # The switch never took the call: end it now so the task is retried.
                follow_up = await self._in_db(
                    self.controller.leg_failed, action.uuid, "SWITCH_UNAVAILABLE"
                )
                for next_action in follow_up:
                    await self.execute(next_action)

    def _event_handler(self, node: str):
        async def on_event(event: Event) -> None:
            if self.controller.handles(event):  # no database work for events nobody acts on
                self._events.put_nowait((node, event))

        return on_event

    async def _event_loop(self) -> None:
        """Apply queued events in batches: what arrived while the last batch was committing."""
        while True:
            batch = [await self._events.get()]
            while not self._events.empty() and len(batch) < EVENT_BATCH:
                batch.append(self._events.get_nowait())
            try:
                actions = await self._in_db(self.controller.handle_batch, batch)
                await asyncio.gather(*(self.execute(action) for action in actions))
            except Exception:
                log.exception("applying %s events failed", len(batch))

    async def _reconcile(self, client: EslClient) -> None:
        """After (re)connect: calls we think are up but the switch no longer has have ended."""
        try:
            raw = await client.api("show channels as json")
            rows = json.loads(raw or "{}").get("rows") or []
        except (EslError, ValueError):
            log.exception("could not list channels on %s", client.config.name)
            return
        live = {row.get("uuid") for row in rows}
        actions = await self._in_db(self.controller.end_lost_calls, client.config.name, live)
        for action in actions:
            await self.execute(action)

    async def _mark_trunks(self) -> None:
        """Trunks of a node unreachable for TRUNK_GRACE seconds go down; written on change only."""
        now = asyncio.get_running_loop().time()
        states = {}
        for client in self.pool:
            name = client.config.name
            if client.connected:
                self._down_since.pop(name, None)
                states[name] = True
            else:
                since = self._down_since.setdefault(name, now)
                states[name] = now - since < TRUNK_GRACE
        changed = {n: up for n, up in states.items() if self._trunk_states.get(n) != up}
        if changed:
            await self._in_db(self._apply_trunk_states, changed, executor=self._dial_db)
            self._trunk_states.update(changed)

    def _apply_trunk_states(self, states: dict[str, bool]) -> None:
        for node, up in states.items():
            reason = f"{TRUNK_DOWN_PREFIX}{node} is unreachable"
            if up:
                db.session.execute(
                    update(Trunk)
                    .where(
                        Trunk.node == node,
                        Trunk.status == TrunkStatus.DOWN,
                        Trunk.status_reason == reason,
                    )
                    .values(status=TrunkStatus.UP, status_reason=None)
                )
                # Campaigns the outage paused carry on by themselves.
                db.session.execute(
                    update(Campaign)
                    .where(
                        Campaign.status == CampaignStatus.PAUSED,
                        Campaign.status_reason.like(f"trunk % is down: {reason}"),
                    )
                    .values(status=CampaignStatus.RUNNING, status_reason=None)
                )
            else:
                log.warning("trunks of %s are down: %s", node, reason)
                db.session.execute(
                    update(Trunk)
                    .where(Trunk.node == node, Trunk.status == TrunkStatus.UP)
                    .values(status=TrunkStatus.DOWN, status_reason=reason)
                )
        db.session.commit()


async def run_daemon(app: Flask, nodes: str) -> None:
    import signal

    daemon = TelephonyDaemon(app, parse_nodes(nodes))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, daemon.stop)
    await daemon.run()
