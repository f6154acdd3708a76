"""Publishes what happened to calls: Redis pub/sub (global and per agent) and a capped stream.

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


def agent_channel(agent_id: int) -> str:
    return f"callcenter:agent:{agent_id}"


class CallNotifier:
    def __init__(self, connection: redis.Redis):
        self.redis = connection

    def publish(self, kind: str, *, agent_id: int | None = None, **fields) -> dict:
        message = {"type": kind, "at": utcnow().isoformat(), "agent_id": agent_id, **fields}
        data = json.dumps(message, default=str)
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.xadd(EVENT_LOG, {"event": data}, maxlen=EVENT_LOG_LENGTH, approximate=True)
            pipe.publish(GLOBAL_CHANNEL, data)
            if agent_id is not None:
                pipe.publish(agent_channel(agent_id), data)
            pipe.execute()
        except redis.RedisError:
            # The database already holds the truth; a lost notification must not lose a call.
            log.exception("could not publish %s", kind)
        return message
