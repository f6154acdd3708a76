"""The command stream: web and workers ask the telephony daemon to act, through Redis.

Web and worker never open ESL connections (DESIGN.md). A command is a small JSON document on a
Redis stream read by the daemon's consumer group, so a command survives a daemon restart.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import redis

from callcenter.errors import TelephonyUnavailable
from callcenter.telephony.actions import Action, Bridge, Hangup, Originate

STREAM = "callcenter:telephony:commands"
GROUP = "telephony"
_KINDS = {"originate": Originate, "bridge": Bridge, "hangup": Hangup}


def encode(action: Action) -> dict:
    kind = {Originate: "originate", Bridge: "bridge", Hangup: "hangup"}[type(action)]
    return {"kind": kind, **asdict(action)}


def decode(data: dict) -> Action:
    fields = dict(data)
    return _KINDS[fields.pop("kind")](**fields)


class CommandBus:
    """The web side: put actions on the stream."""

    def __init__(self, connection: redis.Redis):
        self.redis = connection

    def send(self, *actions: Action) -> None:
        """Queue the actions in one round trip; TelephonyUnavailable if Redis cannot take them."""
        pipe = self.redis.pipeline(transaction=False)
        for action in actions:
            pipe.xadd(
                STREAM, {"action": json.dumps(encode(action))}, maxlen=100_000, approximate=True
            )
        try:
            pipe.execute()
        except redis.RedisError as exc:
            raise TelephonyUnavailable(
                "the telephony service cannot be reached (its command queue is down); "
                "nothing was sent, try again shortly",
                {"reason": str(exc)},
            ) from exc

    def ensure_group(self) -> None:
        try:
            self.redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read(
        self, consumer: str, block_ms: int = 1000, count: int = 100
    ) -> list[tuple[str, Action]]:
        """The daemon side: new commands, plus any this consumer took but never acknowledged."""
        out = []
        for start in ("0", ">"):  # first our own pending ones (after a crash), then new ones
            response = self.redis.xreadgroup(
                GROUP,
                consumer,
                {STREAM: start},
                count=count,
                block=None if start == "0" else block_ms,
            )
            for _stream, entries in response or []:
                for entry_id, fields in entries:
                    raw = fields.get(b"action") or fields.get("action")
                    out.append((entry_id, decode(json.loads(raw))))
            if out:
                break
        return out

    def ack(self, entry_id) -> None:
        self.redis.xack(STREAM, GROUP, entry_id)
