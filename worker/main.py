"""The worker entry point: load the app and the Vosk models once, then work the queues."""

from __future__ import annotations

import logging

from rq import Worker

from callcenter.config import LANGUAGES
from callcenter.jobs import QUEUES
from worker import context


def preload_models(config) -> list[str]:
    """Load the Vosk models before RQ forks a work horse per job, so every job finds them
    loaded (the forked horse shares the parent's memory).

    faster-whisper models are not preloaded: CTranslate2 hangs when used in a forked child
    (measured), so a whisper job loads its model in its own horse (under a second for tiny).
    """
    from recordings.models import ModelMissing, model_path_for
    from recordings.transcribe import engine_for, load_transcriber

    log = logging.getLogger(__name__)
    loaded = []
    for language in LANGUAGES:
        engine = engine_for(config.get("TRANSCRIBE_ENGINE"), language)
        if engine != "vosk":
            continue
        try:
            path = model_path_for(engine, language, config)
            load_transcriber(engine, path, language)
        except ModelMissing as exc:  # the jobs will say so on each recording
            log.warning("no %s model for %s: %s", engine, language, exc)
            continue
        loaded.append(f"{language}: {engine} {path}")
    return loaded


def run(queues: tuple[str, ...] = QUEUES, burst: bool = False, with_scheduler: bool = True) -> bool:
    """Work the queues until stopped (or, with ``burst``, until they are empty)."""
    app = context.app()  # heavy state loaded before the first job, shared by all of them
    if "recordings" in queues:
        for model in preload_models(app.config):
            logging.getLogger(__name__).info("model loaded once for every job: %s", model)
        from callcenter.services.transcript_text import tokenizer

        tokenizer()  # jieba's dictionary, for indexing Mandarin transcripts
    jobs = app.extensions["callcenter.jobs"]
    logging.getLogger(__name__).info("worker on queues %s", ", ".join(queues))
    worker = Worker([jobs.queue(name) for name in queues], connection=jobs.connection)
    return worker.work(burst=burst, with_scheduler=with_scheduler)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    run()
