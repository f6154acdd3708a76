"""The IVR server: one outbound event-socket session per answered IVR call, running its flow.

FreeSWITCH connects for every call an IVR campaign places (``&socket(host:port async full)``).
The session loads what the flow needs from the database once, runs the flow (no database work
between a keypress and the next prompt), writes the outcome, and hangs up. The database work
runs on a small thread pool of its own, so the event loop keeps serving the other calls.
"""

from __future__ import annotations

import asyncio
import logging
import zoneinfo
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress

from flask import Flask
from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import CallAttempt, Campaign, Patient, utcnow
from callcenter.models.ivr import (
    IvrAppointment,
    IvrCampaignSettings,
    IvrFlow,
    IvrOutcome,
    IvrPrompt,
)
from callcenter.services import ivr_results
from callcenter.telephony import wire
from callcenter.telephony.actions import Action, Hangup, Originate
from callcenter.telephony.esl import check_reply
from callcenter.telephony.outbound import OutboundSession, SessionHungUp, serve
from ivr.dialog import CallContext, Dialog, FlowEnded, FlowResult
from ivr.flows import medication, questionnaire, reminder
from ivr.prompts import PromptLibrary, store_from_config

log = logging.getLogger(__name__)
CLINIC = {"zh": "社区卫生服务中心", "en": "your clinic"}
AGENT_ANSWER_SECONDS = 30.0  # from reserving an agent to the bridge, at most
UNUSED_EVENTS = ("CHANNEL_EXECUTE", "DTMF", "CHANNEL_STATE", "CHANNEL_PARK", "CHANNEL_UNPARK",
                 "CHANNEL_DATA", "CHANNEL_APPLICATION", "TALK", "NOTALK")  # fmt: skip
RETRY_GOODBYE = {IvrOutcome.NO_INPUT, IvrOutcome.WRONG_INPUT}


def parse_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        raise ValueError(f"IVR_SOCKET_ADDRESS must be host:port, not {address!r}") from None


class IvrServer:
    def __init__(
        self,
        app: Flask,
        send: Callable[[Action], Awaitable[None]],
        make_originate: Callable[[CallAttempt], Originate],
        *,
        prompts: PromptLibrary | None = None,
        db_threads: int = 2,
        poll_seconds: float = 0.5,
    ):
        self.app = app
        self.send = send
        self.make_originate = make_originate
        self.prompts = prompts or PromptLibrary(store_from_config(app.config))
        self.poll_seconds = poll_seconds
        self.language = app.config.get("DEFAULT_LANGUAGE", "zh")
        self._db = ThreadPoolExecutor(max_workers=db_threads, thread_name_prefix="ivr-db")
        self._server: asyncio.Server | None = None
        self._calls: set[asyncio.Task] = set()

    async def start(self, address: str) -> asyncio.Server:
        host, port = parse_address(address)
        self._server = await serve(host, port, self.handle)
        log.info("IVR server listening on %s", address)
        return self._server

    @property
    def port(self) -> int:
        return self._server.sockets[0].getsockname()[1] if self._server else 0

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        # Calls in progress get a moment to write their outcome, then are cut off.
        if self._calls:
            _done, pending = await asyncio.wait(set(self._calls), timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._server is not None:
            with suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        self._db.shutdown(wait=True)

    async def in_db(self, func, *args):
        def call():
            with self.app.app_context():
                try:
                    result = func(db.session, *args)
                    db.session.commit()
                    return result
                except Exception:
                    db.session.rollback()
                    raise
                finally:
                    db.session.remove()

        return await asyncio.get_running_loop().run_in_executor(self._db, call)

    # --- one call ------------------------------------------------------------------------

    async def handle(self, session: OutboundSession) -> None:
        task = asyncio.current_task()
        self._calls.add(task)
        try:
            await self._handle(session)
        finally:
            self._calls.discard(task)

    async def _handle(self, session: OutboundSession) -> None:
        await session.connect()
        await session.myevents()
        # Only completions, bridges and hangups matter here; fewer events to parse per key.
        check_reply(await session.request(wire.command(f"nixevent {' '.join(UNUSED_EVENTS)}")))
        await session.linger()
        call_id = session.variable("callcenter_call_id")
        ctx = await self.in_db(load_context, call_id, self.language) if call_id else None
        if ctx is None:
            log.warning("IVR: no IVR call %r behind this session; hanging up", call_id)
            await session.hangup()
            return
        started = utcnow()
        dialog = Dialog(
            session,
            ctx,
            self.prompts,
            opt_out=lambda: self.in_db(ivr_results.opt_out, ctx.patient_id, ctx.call_id),
            transfer=self._transfer,
        )
        result = await self._run(dialog)
        report = ivr_results.IvrReport(
            call_id=ctx.call_id,
            flow=ctx.flow,
            language=ctx.language,
            outcome=result.outcome,
            step=result.step,
            trail=dialog.trail,
            detail=result.detail,
            answers=result.answers,
            measurements=[(m.code, m.value) for m in result.measurements],
            urgent=result.urgent,
            callback_reason=result.callback_reason,
            questionnaire=result.questionnaire,
            complete=result.complete,
            started_at=started,
        )
        await self.in_db(ivr_results.record, report)
        log.info("IVR call %s: %s at %s", ctx.call_id, result.outcome, result.step)
        if result.outcome is IvrOutcome.TRANSFERRED:
            async for _event in session.events():  # stay until the call ends: closing the
                pass  # socket would end the socket application, and with it the call
        else:
            with suppress(SessionHungUp):
                await session.hangup()

    async def _run(self, dialog: Dialog) -> FlowResult:
        partial = FlowResult(IvrOutcome.REACHED, "start")
        dialog.partial = partial
        try:
            return await run_flow(dialog)
        except FlowEnded as end:
            result = _with_answers(dialog, FlowResult(end.outcome, end.step))
            if end.outcome in RETRY_GOODBYE:
                with suppress(SessionHungUp):
                    await dialog.goodbye("goodbye_retry")
            return result
        except SessionHungUp:
            return _with_answers(dialog, FlowResult(IvrOutcome.HUNG_UP_EARLY, dialog.step))
        except Exception as exc:
            log.exception("IVR flow failed on call %s", dialog.ctx.call_id)
            failed = FlowResult(IvrOutcome.FAILED, dialog.step, detail=repr(exc)[:500])
            return _with_answers(dialog, failed)

    async def _transfer(self, dialog: Dialog) -> bool:
        """Wait up to the campaign's limit for a ready agent; the controller bridges and pops
        the agent's screen once the agent's leg is up."""
        loop = asyncio.get_running_loop()
        await dialog.session.execute("playback", await dialog.prompt("hold"), wait=False)
        deadline = loop.time() + dialog.ctx.transfer_wait_seconds
        while True:
            originate = await self.in_db(ivr_results.reserve_agent, dialog.ctx.call_id,
                                         self.make_originate)  # fmt: skip
            if originate is not None:
                break
            if loop.time() + self.poll_seconds > deadline:
                return False
            await asyncio.sleep(self.poll_seconds)
        await self.send(originate)
        return await self._agent_joins(dialog, originate)

    async def _agent_joins(self, dialog: Dialog, agent_leg: Originate) -> bool:
        """Wait for the bridge; False once the controller let the agent's leg go (it did not
        answer) or it rang too long (then it is hung up here)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + AGENT_ANSWER_SECONDS
        while loop.time() < deadline:
            try:
                await dialog.session.next_event("CHANNEL_BRIDGE", timeout=self.poll_seconds)
                return True
            except TimeoutError:
                pass
            if dialog.session.hung_up:
                raise SessionHungUp("the patient hung up while waiting for an agent")
            ringing = await self.in_db(ivr_results.agent_leg_is, dialog.ctx.call_id, agent_leg.uuid)
            if not ringing:
                return False
        await self.send(Hangup(agent_leg.node, agent_leg.uuid))
        return False


async def run_flow(dialog: Dialog) -> FlowResult:
    flow = dialog.ctx.flow
    if flow is IvrFlow.REMINDER:
        return await reminder.run(dialog)
    if flow is IvrFlow.MEDICATION:
        return await medication.run(dialog)
    return await questionnaire.run(dialog, dialog.ctx.questions, "questionnaire_intro")


def _with_answers(dialog: Dialog, result: FlowResult) -> FlowResult:
    """Keep what a questionnaire collected before it stopped."""
    partial = dialog.partial
    if partial is not None and partial.questionnaire:
        result.questionnaire = True
        result.answers, result.measurements = partial.answers, partial.measurements
        result.urgent = partial.urgent
    return result


def load_context(session, call_id: str, default_language: str) -> CallContext | None:
    """Everything the flow needs, read once before the first prompt."""
    call = session.get(CallAttempt, call_id)
    if call is None or call.patient_id is None:
        return None
    patient = session.get(Patient, call.patient_id)
    campaign = session.get(Campaign, call.campaign_id) if call.campaign_id else None
    settings = session.get(IvrCampaignSettings, campaign.id) if campaign else None
    appointment = None
    if call.task_id:
        appointment = session.scalar(
            select(IvrAppointment).where(IvrAppointment.task_id == call.task_id)
        )
    script = list(campaign.question_script or []) if campaign else []
    if settings is not None:
        flow = settings.flow
    else:
        flow = IvrFlow.QUESTIONNAIRE if script and appointment is None else IvrFlow.REMINDER
    language = patient.language if patient.language in CLINIC else default_language
    texts, audio = {}, {}
    if campaign is not None:
        rows = session.scalars(
            select(IvrPrompt).where(
                IvrPrompt.campaign_id == campaign.id, IvrPrompt.language == language
            )
        )
        for row in rows:
            if row.text:
                texts[row.key] = row.text
            if row.audio_key:
                audio[row.key] = row.audio_key
    when = None
    if appointment is not None:
        when = appointment.starts_at.astimezone(zoneinfo.ZoneInfo(patient.timezone))
    return CallContext(
        call_id=call.id,
        task_id=call.task_id,
        patient_id=patient.id,
        campaign_id=call.campaign_id,
        flow=flow,
        language=language,
        clinic_name=(settings.clinic_name if settings else "") or CLINIC[language],
        appointment_at=when,
        place=appointment.place if appointment else "",
        questions=script,
        transfer_wait_seconds=float(settings.transfer_wait_seconds) if settings else 20.0,
        prompt_texts=texts,
        prompt_audio=audio,
    )
