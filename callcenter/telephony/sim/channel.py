"""A simulated channel: what FreeSWITCH keeps per leg and reports in every event."""

from __future__ import annotations

import asyncio
from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .script import PatientScript

if TYPE_CHECKING:
    from .server import EslConnection

L16 = ("L16", 8000, 128000)  # loopback legs
PCMU = ("PCMU", 8000, 64000)  # SIP legs


@dataclass
class CallerProfile:
    """The ``Caller-*`` block (and ``Other-Leg-*``, ``Channel-*`` in other events)."""

    direction: str
    logical_direction: str
    destination_number: str
    unique_id: str
    channel_name: str
    source: str
    dialplan: str | None = "xml"
    caller_id_name: str = ""
    caller_id_number: str = "0000000000"
    orig_caller_id_name: str = ""
    orig_caller_id_number: str = "0000000000"
    callee_id_name: str = ""
    callee_id_number: str = ""
    network_addr: str | None = None
    ani: str = "0000000000"
    transfer_source: str | None = None
    context: str = "default"
    index: int = 1
    created_us: int = 0


@dataclass(eq=False)
class Recording:
    path: str
    start_s: float  # simulated seconds (clock) when recording started
    stereo: bool
    rate: int
    write_file: bool = True  # False for the loopback B-leg's copy of execute_on_answer


@dataclass(eq=False)
class SimChannel:
    """One leg. ``kind`` is ``patient`` (the A-leg the clinic dials), ``loopback_b`` (the
    far side of a loopback call) or ``agent`` (``user/<ext>``)."""

    uuid: str
    name: str
    kind: str
    endpoint: str  # loopback | sofia
    number: str  # dialled number or extension
    session_id: int
    created_us: int
    profile: CallerProfile
    script: PatientScript | None = None
    variables: dict[str, str] = field(default_factory=dict)
    # state as FreeSWITCH reports it
    state: str = "CS_INIT"
    state_number: int = 2
    call_state: str = "DOWN"
    answer_state: str = "ringing"
    hit_dialplan: bool = False
    codec: tuple[str, int, int] | None = L16
    hangup_cause: str | None = None
    # times (microseconds on the simulated clock, 0 when not reached)
    answered_us: int = 0
    hangup_us: int = 0
    bridged_us: int = 0
    # relations
    peer: SimChannel | None = None  # the other loopback leg
    partner: SimChannel | None = None  # bridged to
    other_type: str | None = None  # originatee / originator, while bridged
    # media
    recordings: list[Recording] = field(default_factory=list)
    speech: array | None = None  # far-end speech, 8 kHz mono, starts at answer
    speech_done: bool = False
    played: list[tuple[float, array]] = field(default_factory=list)  # (s after answer, audio)
    dtmf_buffer: list[str] = field(default_factory=list)
    digits_dialed: str = ""
    prompts_heard: int = 0  # digit-collecting prompts played so far (script.dtmf_on_prompt)
    # execution
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    app_queue: asyncio.Queue[tuple[str, str, str]] = field(default_factory=asyncio.Queue)
    parked: bool = False
    serving: bool = False  # park / socket is taking queued (sendmsg) applications
    exec_stack: list[tuple[str, str, str]] = field(default_factory=list)  # (app, arg, app uuid)
    originating: bool = False  # between CHANNEL_ANSWER and the originate's result
    last_app: tuple[str, str] | None = None
    socket: EslConnection | None = None
    hungup: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    dtmf_arrived: asyncio.Event = field(default_factory=asyncio.Event)

    # --- variables: FreeSWITCH re-appends a variable when it is set again ---------------------

    def set_var(self, name: str, value: str | None) -> None:
        self.variables.pop(name, None)
        if value is not None:
            self.variables[name] = str(value)

    def get_var(self, name: str) -> str | None:
        return self.variables.get(name)

    @property
    def answered_flag(self) -> bool:
        return self.answered_us > 0

    def set_state(self, state: str, number: int, call_state: str | None = None) -> None:
        self.state = state
        self.state_number = number
        if call_state is not None:
            self.call_state = call_state

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """Run ``coro`` as part of this channel: cancelled when the channel hangs up."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def cancel_tasks(self) -> None:
        current = asyncio.current_task()
        for task in list(self.tasks):
            if task is not current:
                task.cancel()
