"""The worker entry point: load the app (and later the Vosk models) once, then work queues."""

from __future__ import annotations

import logging

from rq import Worker

from callcenter.jobs import QUEUES
from worker import context


def run(queues: tuple[str, ...] = QUEUES, burst: bool = False, with_scheduler: bool = True) -> bool:
    """Work the queues until stopped (or, with ``burst``, until they are empty)."""
    app = context.app()  # heavy state loaded before the first job, shared by all of them
    jobs = app.extensions["callcenter.jobs"]
    logging.getLogger(__name__).info("worker on queues %s", ", ".join(queues))
    worker = Worker([jobs.queue(name) for name in queues], connection=jobs.connection)
    return worker.work(burst=burst, with_scheduler=with_scheduler)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    run()
