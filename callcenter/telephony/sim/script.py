"""Scripted patients: what the far end does when the simulator dials a number."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

OUTCOMES = ("answer", "busy", "no_answer", "reject", "invalid")


@dataclass
class PatientScript:
    """How a dialled patient behaves. Times are in simulated seconds (see ``time_scale``)."""

    outcome: str = "answer"  # answer | busy | no_answer | reject | invalid
    ring_seconds: float = 0.2  # before answer, or before the failure
    speech_wav: str | None = None  # WAV the patient "says" after answering (recorded LEFT)
    dtmf: list[tuple[float, str]] = field(default_factory=list)  # (seconds after answer, digits)
    hangup_after: float | None = None  # patient hangs up N s after answer (None: 30 s cap)
    # A patient who listens: for the n-th prompt that collects digits (play_and_get_digits,
    # read), press ``digits`` ``delay`` seconds after it starts; "" stays silent, "hangup"
    # hangs up then. Prompts past the end of the list get silence.
    dtmf_on_prompt: list[tuple[float, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {self.outcome!r}")
        self.ring_seconds = max(0.0, float(self.ring_seconds))
        self.dtmf = sorted((float(at), str(digits)) for at, digits in self.dtmf)
        self.dtmf_on_prompt = [(float(at), str(keys)) for at, keys in self.dtmf_on_prompt]
        if self.hangup_after is not None:
            self.hangup_after = max(0.0, float(self.hangup_after))


# An agent's phone (``user/<extension>``) when no script names the extension.
AGENT_SCRIPT = PatientScript(outcome="answer", ring_seconds=0.1)


def script_from_dict(data: dict[str, Any]) -> PatientScript:
    known = {f.name for f in fields(PatientScript)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown PatientScript fields: {sorted(unknown)}")
    values = dict(data)
    if "dtmf" in values:
        values["dtmf"] = [(float(at), str(digits)) for at, digits in values["dtmf"]]
    if "dtmf_on_prompt" in values:
        values["dtmf_on_prompt"] = [(float(at), str(k)) for at, k in values["dtmf_on_prompt"]]
    return PatientScript(**values)


def load_scripts(path: str | Path) -> tuple[dict[str, PatientScript], PatientScript | None]:
    """Read a scripts file.

    Either ``{"default": {...}, "numbers": {"+8613800138000": {...}}}`` or a flat mapping of
    numbers to scripts with an optional ``"default"`` key. Relative ``speech_wav`` paths are
    resolved against the file's folder.
    """
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("scripts file must hold a JSON object")
    default_data = data.get("default")
    numbers = data.get("numbers")
    if numbers is None:
        numbers = {k: v for k, v in data.items() if k != "default"}

    def build(raw: dict[str, Any]) -> PatientScript:
        script = script_from_dict(raw)
        if script.speech_wav and not Path(script.speech_wav).is_absolute():
            script.speech_wav = str((path.parent / script.speech_wav).resolve())
        return script

    scripts = {str(number): build(raw) for number, raw in numbers.items()}
    default = build(default_data) if default_data is not None else None
    return scripts, default


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


class ScriptBook:
    """Scripts by number; a dialled number matches a key by its digits, with or without the
    country code or international prefix (``+86 138...``, ``0086138...`` and ``138...`` are
    one number). Non-numeric keys (``followup_patient``) match exactly."""

    MIN_SUFFIX = 6  # shortest digit string that may match as a suffix of a longer one

    def __init__(
        self, scripts: dict[str, PatientScript] | None = None, default: PatientScript | None = None
    ):
        self.scripts: dict[str, PatientScript] = dict(scripts or {})
        self.default = default if default is not None else PatientScript()

    def set(self, number: str, script: PatientScript) -> None:
        self.scripts[str(number)] = script

    def find(self, number: str) -> PatientScript | None:
        """The script for ``number``, or None when no key matches."""
        if number in self.scripts:
            return self.scripts[number]
        dialled = _digits(number)
        if not dialled:
            return None
        best: tuple[int, PatientScript] | None = None
        for key, script in self.scripts.items():
            digits = _digits(key)
            if not digits:
                continue
            if digits == dialled:
                return script
            short, long_ = sorted((digits, dialled), key=len)
            fits = len(short) >= self.MIN_SUFFIX and long_.endswith(short)
            if fits and (best is None or len(short) > best[0]):
                best = (len(short), script)
        return best[1] if best else None

    def lookup(self, number: str) -> PatientScript:
        return self.find(number) or self.default
