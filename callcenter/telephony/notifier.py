"""Publishes what happened to calls: Redis pub/sub (global and per agent) and capped streams
(global, and one per agent for the desks' event streams).

Channel names live here only, so the web's SSE endpoint and the daemon cannot disagree.
"""

from __future__ import annotations

import json
import logging

import redis

from callcenter.models import utcnow

log = logging.getLogger(__name__)
GLOBAL_CHANNEL = "callcenter:calls"
EVENT_LOG = "callcenter:calls:log"
EVENT_LOG_LENGTH = 10_000


AGENT_LOG_LENGTH = 1_000


def agent_channel(agent_id: int) -> str:
    return f"callcenter:agent:{agent_id}"


def agent_log(agent_id: int) -> str:
    """The agent's own capped stream: their desk's event stream blocks on it alone, instead of
    waking for every call of every agent."""
    return f"callcenter:agent:{agent_id}:log"


class CallNotifier:
    def __init__(self, connection: redis.Redis):
        self.redis = connection

    def publish(self, kind: str, *, agent_id: int | None = None, **fields) -> dict:
        return self.publish_many([(kind, {"agent_id": agent_id, **fields})])[0]

    def publish_many(self, notices: list[tuple[str, dict]]) -> list[dict]:
        """Publish several notices in one round trip (a batch of call events commits at once)."""
        messages = []
        pipe = self.redis.pipeline(transaction=False)
        for kind, fields in notices:
            message = {"type": kind, "at": utcnow().isoformat(), "agent_id": None, **fields}
            data = json.dumps(message, default=str)
            pipe.xadd(EVENT_LOG, {"event": data}, maxlen=EVENT_LOG_LENGTH, approximate=True)
            pipe.publish(GLOBAL_CHANNEL, data)
            if message["agent_id"] is not None:
                pipe.publish(agent_channel(message["agent_id"]), data)
                pipe.xadd(
                    agent_log(message["agent_id"]),
                    {"event": data},
                    maxlen=AGENT_LOG_LENGTH,
                    approximate=True,
                )
            messages.append(message)
        try:
            pipe.execute()
        except redis.RedisError:
            # The database already holds the truth; a lost notification must not lose a call.
            log.exception("could not publish %s", ", ".join(kind for kind, _ in notices))
        return messages
