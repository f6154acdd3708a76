"""Appointment reminder: announce, say the appointment, 1 confirm / 2 change / 0 agent.

States: intro -> menu -> confirmed | change_requested | transfer -> (transferred | callback).
"""

from __future__ import annotations

import asyncio

from callcenter.models.ivr import IvrOutcome
from ivr.dialog import Dialog, FlowResult
from ivr.speech import say_datetime


async def run(dialog: Dialog) -> FlowResult:
    ctx = dialog.ctx
    dialog.step = "intro"
    # Synthesize the appointment sentence while the announcement plays.
    appointment = None
    if ctx.appointment_at is not None:
        when = say_datetime(ctx.appointment_at, ctx.language)
        if ctx.place:
            when = f"{when}，{ctx.place}" if ctx.language == "zh" else f"{when}, at {ctx.place}"
        appointment = asyncio.ensure_future(dialog.prompt("appointment", when=when))
    try:
        await dialog.play(await dialog.prompt("intro", clinic=ctx.clinic_name))
        files = [await appointment] if appointment is not None else []
    finally:
        if appointment is not None and not appointment.done():
            appointment.cancel()  # the patient hung up during the announcement
    files.append(await dialog.prompt("reminder_menu"))
    choice = await dialog.menu("menu", files, "120")
    if choice == "1":
        dialog.step = "confirmed"
        await dialog.goodbye("confirmed")
        return FlowResult(IvrOutcome.CONFIRMED, "confirmed")
    if choice == "2":
        dialog.step = "change_requested"
        await dialog.goodbye("change_requested")
        return FlowResult(
            IvrOutcome.CHANGE_REQUESTED,
            "change_requested",
            callback_reason="The patient asked to change the appointment (IVR key 2)",
        )
    if await dialog.transfer():
        return FlowResult(IvrOutcome.TRANSFERRED, "transfer")
    await dialog.goodbye("no_agent")
    return FlowResult(
        IvrOutcome.CALLBACK_SCHEDULED,
        "transfer",
        detail="no agent was ready in time",
        callback_reason="The patient asked to talk to someone; nobody was free (IVR key 0)",
    )
