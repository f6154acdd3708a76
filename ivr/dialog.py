"""What a flow does on a call: play prompts, collect keys, keep the keypad trail.

Repetition is decided here, not by FreeSWITCH (``play_and_get_digits`` runs with one try), so
every attempt lands in the trail and the flow knows exactly where the patient stopped.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime

from callcenter.models.ivr import IvrFlow, IvrOutcome
from callcenter.telephony.outbound import OutboundSession, SessionHungUp
from ivr import texts
from ivr.prompts import PromptLibrary

OPT_OUT_KEY = "9"
MENU_TRIES = 3  # the first time and two repeats
NUMBER_TRIES = 3
INVALID_FILE = "silence_stream://200"


class FlowEnded(Exception):
    """The flow stops here with ``outcome`` (no input, opted out...)."""

    def __init__(self, outcome: IvrOutcome, step: str):
        super().__init__(f"{outcome} at {step}")
        self.outcome = outcome
        self.step = step


@dataclass
class Measurement:
    code: str
    value: float
    question: str


@dataclass
class FlowResult:
    outcome: IvrOutcome
    step: str
    detail: str = ""
    answers: dict = field(default_factory=dict)
    measurements: list[Measurement] = field(default_factory=list)
    urgent: list[str] = field(default_factory=list)  # why an agent must call urgently
    callback_reason: str | None = None
    questionnaire: bool = False
    complete: bool = False


@dataclass
class CallContext:
    """What the flow needs to know, loaded from the database before the first prompt."""

    call_id: str
    task_id: int | None
    patient_id: int
    campaign_id: int | None
    flow: IvrFlow
    language: str
    clinic_name: str = ""
    appointment_at: datetime | None = None  # in the patient's own timezone
    place: str = ""
    questions: list[dict] = field(default_factory=list)
    transfer_wait_seconds: float = 20.0
    prompt_texts: dict[str, str] = field(default_factory=dict)  # campaign overrides
    prompt_audio: dict[str, str] = field(default_factory=dict)  # uploaded, by key


class Dialog:
    def __init__(
        self,
        session: OutboundSession,
        ctx: CallContext,
        prompts: PromptLibrary,
        *,
        opt_out: Callable[[], Awaitable[None]],
        transfer: Callable[[Dialog], Awaitable[bool]],
        digit_timeout_ms: int = 5000,
    ):
        self.session = session
        self.ctx = ctx
        self.prompts = prompts
        self._opt_out = opt_out
        self._transfer = transfer
        self.digit_timeout_ms = digit_timeout_ms
        self.step = "start"
        self.trail: list[dict] = []
        self.partial: FlowResult | None = None  # what a flow collected so far, kept on hangup
        self._started = time.monotonic()
        self._asks = 0

    # --- prompts -----------------------------------------------------------------------

    def text(self, key: str, **values) -> str:
        template = self.ctx.prompt_texts.get(key)
        if template is None:
            template = texts.DEFAULTS[key].get(self.ctx.language) or texts.DEFAULTS[key]["en"]
        return template.format(**values) if values else template

    async def prompt(self, key: str, **values) -> str:
        """The file for a prompt: the campaign's uploaded audio wins over speech synthesis (a
        recording says the clinic's name itself; prompts that change per call cannot be
        uploaded)."""
        audio = self.ctx.prompt_audio.get(key)
        if audio:
            return self.prompts.uploaded(audio)
        return await self.prompts.speak(self.text(key, **values), self.ctx.language)

    async def say(self, text: str) -> str:
        return await self.prompts.speak(text, self.ctx.language)

    async def play(self, *files: str) -> None:
        await self.session.execute("playback", _joined(files))
        if self.session.hung_up:  # the playback ended because the patient hung up
            raise SessionHungUp(f"hung up during {self.step}")

    async def goodbye(self, key: str) -> None:
        """The last words; a patient who hangs up during them has already decided."""
        with suppress(SessionHungUp):
            await self.play(await self.prompt(key))

    # --- keys --------------------------------------------------------------------------

    async def ask(self, files: list[str], *, max_digits: int = 1, number: bool = False) -> str:
        """Play ``files`` (interruptible) and return the keys pressed, '' for none."""
        self._asks += 1
        var = f"ivr_in_{self._asks}"
        terminators, regexp = ("#", r"\d+") if number else ("none", r"[0-9*#]")
        arg = " ".join(
            (
                "1", str(max_digits), "1", str(self.digit_timeout_ms), terminators,
                _joined(files), INVALID_FILE, var, regexp, str(self.digit_timeout_ms),
            )
        )  # fmt: skip
        done = await self.session.execute("play_and_get_digits", arg)
        digits = (done.variable(var) if done is not None else None) or ""
        self.trail.append(
            {"step": self.step, "digits": digits, "at": round(time.monotonic() - self._started, 3)}
        )
        return digits

    async def menu(self, step: str, files: list[str], valid: str) -> str:
        """One key among ``valid``; repeats twice on no or wrong input; 9 opts out anywhere."""
        self.step = step
        wrong = False
        for attempt in range(MENU_TRIES):
            digits = await self.ask(files)
            if digits == OPT_OUT_KEY and OPT_OUT_KEY not in valid:
                await self.opt_out()
            if digits and digits in valid:
                return digits
            wrong = bool(digits)
            if attempt < MENU_TRIES - 1:
                sorry = await self.prompt("invalid" if wrong else "no_input")
                files = [sorry, *files]
        raise FlowEnded(IvrOutcome.WRONG_INPUT if wrong else IvrOutcome.NO_INPUT, step)

    async def number(self, step: str, files: list[str]) -> int:
        """Digits ending with #, read back and confirmed; 2 at the confirmation re-enters."""
        self.step = step
        hint = await self.prompt("hint_number")
        for _ in range(NUMBER_TRIES):
            digits = ""
            for attempt in range(MENU_TRIES):
                digits = await self.ask([*files, hint], max_digits=6, number=True)
                if digits:
                    break
                if attempt < MENU_TRIES - 1:
                    files = [await self.prompt("no_input"), *files]
            if not digits:
                raise FlowEnded(IvrOutcome.NO_INPUT, step)
            said = [await self.prompt(f"digit_{d}") for d in digits]
            readback = [await self.prompt("you_entered"), *said]
            readback.append(await self.prompt("confirm_number"))
            if await self.menu(f"{step}_confirm", readback, "12") == "1":
                self.step = step
                return int(digits)
            self.step = step
        raise FlowEnded(IvrOutcome.WRONG_INPUT, step)

    async def opt_out(self) -> None:
        """Flag do-not-call at once, say so, and end the flow."""
        step = self.step
        await self._opt_out()
        await self.goodbye("opted_out")
        raise FlowEnded(IvrOutcome.OPTED_OUT, step)

    async def transfer(self) -> bool:
        """Connect to a ready agent (screen pop by the controller); False if nobody came."""
        self.step = "transfer"
        return await self._transfer(self)


def _joined(files: list[str] | tuple[str, ...]) -> str:
    files = [f for f in files if f]
    return files[0] if len(files) == 1 else "file_string://" + "!".join(files)
