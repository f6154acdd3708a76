"""Background jobs: web and telephony enqueue by dotted name with ids only; RQ runs them."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from rq import Queue, Retry

# Queues named by workload so a slow transcription never delays an import.
QUEUES = ("imports", "recordings", "default")
DEFAULT_RETRY = Retry(max=3, interval=[10, 30, 60])
RECORDING_JOB = "worker.jobs.process_recording"


def recording_job_timeout(audio_seconds: float | None) -> int:
    """Seconds a recording's job may run: model loading plus transcription at a pessimistic
    real-time factor of 2 (measured engines run 5 to 30 times faster than real time)."""
    return int(300 + 2 * (audio_seconds or 600))


@dataclass
class JobQueue:
    connection: redis.Redis

    @classmethod
    def from_url(cls, url: str) -> JobQueue:
        # from_url does not connect; the first command does, so the app starts without Redis.
        return cls(redis.Redis.from_url(url))

    def queue(self, name: str) -> Queue:
        return Queue(name, connection=self.connection)

    def enqueue(
        self,
        func: str,
        *args,
        queue: str = "default",
        job_id: str | None = None,
        retry: Retry | None = DEFAULT_RETRY,
        timeout: int = 600,
    ):
        """Enqueue ``func`` (a dotted name) unless a job with ``job_id`` is already waiting."""
        q = self.queue(queue)
        if job_id is not None:
            existing = q.fetch_job(job_id)
            if existing is not None and existing.get_status(refresh=True) in {
                "queued",
                "started",
                "deferred",
                "scheduled",
            }:
                return existing
        return q.enqueue(func, *args, job_id=job_id, retry=retry, job_timeout=timeout)
