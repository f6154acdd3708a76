"""What the domain asks the switch to do, decided by the dialer and the controller.

These are plain data so deciding (sync, in the database) and doing (async, over ESL) stay apart:
the daemon executes them; tests can assert them without a switch.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Originate:
    """``bgapi originate {vars}<dial_string> <app>`` with origination_uuid = ``uuid``.

    The Job-UUID is the same uuid, so a retried command can be recognised and never dials twice.
    """

    node: str
    uuid: str
    dial_string: str
    app: str = "&park()"
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Bridge:
    node: str
    uuid: str
    other_uuid: str


@dataclass(frozen=True)
class Hangup:
    node: str
    uuid: str
    cause: str = "NORMAL_CLEARING"


Action = Originate | Bridge | Hangup


def originate_command(action: Originate) -> str:
    """The api text FreeSWITCH expects; values with commas or spaces are quoted."""
    variables = {"origination_uuid": action.uuid, **action.variables}
    parts = []
    for name, value in variables.items():
        text = str(value)
        if any(ch in text for ch in ", "):
            text = "'" + text.replace("'", "") + "'"
        parts.append(f"{name}={text}")
    return "originate {" + ",".join(parts) + "}" + action.dial_string + " " + action.app
