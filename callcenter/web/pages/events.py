"""Server-Sent Events: call events from the telephony daemon, streamed to the browser.

The stream reads the notifier's capped Redis stream with ``XREAD BLOCK``: each event's SSE id is
its stream id, so a browser that reconnects with ``Last-Event-ID`` resumes exactly after the last
event it saw (as long as the capped log still holds it). Agents read their own stream (their
events only, so a desk wakes for its own calls alone); supervisors and admins the global one
(the wallboard). While streaming the view holds no database
connection, only one Redis connection; under gunicorn each open stream occupies one gthread.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator

import redis
from flask import Response, current_app, request

from callcenter.extensions import db
from callcenter.models import Role
from callcenter.telephony.notifier import EVENT_LOG, agent_log
from callcenter.web.pages import pages
from callcenter.web.security import current, requires

log = logging.getLogger(__name__)
STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
HEARTBEAT_SECONDS = 15
# A stream ends after this long and the browser reconnects (with Last-Event-ID): sign-outs and
# role changes take effect, and no thread is held forever by a forgotten tab.
MAX_STREAM_SECONDS = 600
RECONNECT_MS = 1000


def _redis() -> redis.Redis:
    """One pool per app for the streams; reads block up to the heartbeat, so a longer timeout."""
    key = "callcenter.sse_redis"
    if key not in current_app.extensions:
        current_app.extensions[key] = redis.Redis.from_url(
            current_app.config["REDIS_URL"], socket_timeout=HEARTBEAT_SECONDS + 15
        )
    return current_app.extensions[key]


def stream_key(agent_id: int | None) -> str:
    return EVENT_LOG if agent_id is None else agent_log(agent_id)


def _start_id(connection: redis.Redis, key: str, last_event_id: str | None) -> str:
    if last_event_id and STREAM_ID.match(last_event_id):
        return last_event_id
    newest = connection.xrevrange(key, count=1)
    return newest[0][0].decode() if newest else "0-0"


def event_stream(
    connection: redis.Redis,
    start_id: str,
    agent_id: int | None,
    *,
    heartbeat: float = HEARTBEAT_SECONDS,
    max_seconds: float = MAX_STREAM_SECONDS,
) -> Iterator[str]:
    """SSE text for the events after ``start_id``: from the agent's own stream, or every event
    when ``agent_id`` is None."""
    key = stream_key(agent_id)
    yield f"retry: {RECONNECT_MS}\n\n"
    last_id = start_id
    ends_at = last_output = time.monotonic()
    ends_at += max_seconds
    while time.monotonic() < ends_at:
        wait = min(heartbeat - (time.monotonic() - last_output), ends_at - time.monotonic())
        try:
            batches = connection.xread({key: last_id}, count=100, block=max(1, int(wait * 1000)))
        except redis.RedisError:
            log.warning("event stream lost Redis; the browser will reconnect", exc_info=True)
            return
        for _stream, entries in batches or ():
            for entry_id, fields in entries:
                last_id = entry_id.decode()
                data = fields.get(b"event", b"{}").decode()
                last_output = time.monotonic()
                yield f"id: {last_id}\ndata: {data}\n\n"
        if time.monotonic() - last_output >= heartbeat:
            # A comment line: keeps proxies from closing an idle stream and notices a gone client.
            last_output = time.monotonic()
            yield ": keep-alive\n\n"


@pages.route("/events")
@requires("calls.read")
def events():
    user = current()
    agent_id = user.id if user.role is Role.AGENT else None
    last_event_id = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    connection = _redis()
    start = _start_id(connection, stream_key(agent_id), last_event_id)
    # Give the connection back before streaming: a stream lives for minutes.
    db.session.remove()
    stream = event_stream(
        connection,
        start,
        agent_id,
        heartbeat=current_app.config.get("SSE_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS),
        max_seconds=current_app.config.get("SSE_MAX_STREAM_SECONDS", MAX_STREAM_SECONDS),
    )
    return Response(
        stream,
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
