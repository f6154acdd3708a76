"""Static checks of the Dockerfile and docker-compose.yml (no Docker engine needed).

The compose file is read with PyYAML (anchors and ``<<`` merges resolved the way Compose resolves
them); the Dockerfile is read instruction by instruction. ``docker compose config`` is run as well
when the compose plugin is installed: it validates against Compose's own schema and needs no engine.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from callcenter.config import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

SERVICES = {"postgres", "redis", "migrate", "web", "worker"}
APP_SERVICES = ("migrate", "web", "worker")
# Variables the compose file may read besides the product's own settings.
DEPLOYMENT_VARIABLES = {"POSTGRES_PASSWORD"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY$")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, ${NAME:+alt}, $NAME;
# a doubled $$ is a literal dollar sign.
INTERPOLATION = re.compile(
    r"(?<!\$)\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<rest>[^}]*)\}|(?P<bare>[A-Za-z_]\w*))"
)
REQUIRED_VARIABLE = re.compile(r"^\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*):\?[^}]+\}$")
URL_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^:/@]+:(?P<password>[^@]*)@", re.IGNORECASE)
GUNICORN = [
    "gunicorn",
    "--worker-class",
    "gthread",
    "--workers",
    "2",
    "--threads",
    "8",
    "--bind",
    "0.0.0.0:8000",
    "callcenter:create_app()",
]


def _compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _services() -> dict:
    return _compose()["services"]


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    assert not pending, "Dockerfile ends inside a continued line"
    return instructions


def _args(instructions: list[tuple[str, str]], keyword: str) -> list[str]:
    return [args for kw, args in instructions if kw == keyword]


def _exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"not exec form: {args}"
    return value


def _strings(node) -> list[str]:
    """Every string (keys included) anywhere in a parsed YAML tree."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return []


def _command(service: dict) -> list[str]:
    command = service["command"]
    return command if isinstance(command, list) else command.split()


def _assert_app_spec_exists(spec: str) -> None:
    module_name, _, expression = spec.partition(":")
    attribute = expression.removesuffix("()")
    assert attribute.isidentifier(), f"unexpected gunicorn app spec {spec!r}"
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attribute, None)), f"{spec!r}: no callable {attribute}"


# --- docker-compose.yml ---------------------------------------------------------------------


def test_compose_defines_the_five_services_and_named_volumes():
    compose = _compose()
    assert set(compose["services"]) == SERVICES
    assert {"postgres-data", "redis-data", "recordings"} <= set(compose.get("volumes") or {})


def test_app_services_build_from_the_dockerfile_and_share_one_environment():
    services = _services()
    environments = []
    for name in APP_SERVICES:
        build = services[name]["build"]
        assert build["context"] == "."
        assert build.get("dockerfile", "Dockerfile") == "Dockerfile"
        assert (ROOT / build["context"] / build.get("dockerfile", "Dockerfile")).is_file()
        environments.append(services[name]["environment"])
    assert services["web"]["image"] == services["worker"]["image"] == services["migrate"]["image"]
    assert environments[0] == environments[1] == environments[2]
    env = environments[0]
    assert env["APP_ENV"] == "production"
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert env["RECORDINGS_DIR"] == "/data/recordings"
    assert env["DATABASE_URL"].startswith("postgresql://callcenter:")
    assert env["DATABASE_URL"].endswith("@postgres:5432/callcenter")


def test_app_environment_sets_only_documented_settings():
    documented = {s.name for s in SETTINGS}
    env = _services()["web"]["environment"]
    assert set(env) <= documented, f"undocumented settings: {sorted(set(env) - documented)}"


def test_every_interpolated_variable_is_a_setting_or_the_database_password():
    allowed = {s.name for s in SETTINGS} | DEPLOYMENT_VARIABLES
    used = set()
    for text in _strings(_compose()):  # comments are not interpolated, so parse first
        for match in INTERPOLATION.finditer(text):
            used.add(match["braced"] or match["bare"])
    assert {"SECRET_KEY", "POSTGRES_PASSWORD"} <= used
    assert used <= allowed, f"undocumented variables: {sorted(used - allowed)}"


def test_no_literal_secrets_in_environments():
    services = _services()
    checked = 0
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            value = str(value)
            if SECRET_NAME.search(key):
                assert REQUIRED_VARIABLE.match(value), (
                    f"{name}.{key} must be a required ${{VAR:?message}} interpolation"
                )
                checked += 1
            url = URL_PASSWORD.match(value)
            if url:
                assert REQUIRED_VARIABLE.match(url["password"]), (
                    f"{name}.{key}: the password in the URL must be ${{VAR:?message}}"
                )
                checked += 1
    assert REQUIRED_VARIABLE.match(services["web"]["environment"]["SECRET_KEY"])["name"] == (
        "SECRET_KEY"
    )
    database_password = URL_PASSWORD.match(services["web"]["environment"]["DATABASE_URL"])
    assert REQUIRED_VARIABLE.match(database_password["password"])["name"] == "POSTGRES_PASSWORD"
    assert REQUIRED_VARIABLE.match(services["postgres"]["environment"]["POSTGRES_PASSWORD"])
    assert checked >= 1 + 3 * 2  # postgres' password, plus SECRET_KEY and the URL per app service


def test_postgres_and_redis_have_healthchecks_and_volumes():
    services = _services()
    postgres, redis = services["postgres"], services["redis"]
    assert postgres["image"] == "postgres:15"
    assert postgres["environment"]["POSTGRES_DB"] == "callcenter"
    assert postgres["environment"]["POSTGRES_USER"] == "callcenter"
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    assert redis["image"] == "redis:7"
    assert redis["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    assert "--appendonly" in _command(redis)


def test_startup_order():
    services = _services()
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker"):
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully"
        assert depends_on["redis"]["condition"] == "service_healthy"
        assert depends_on["postgres"]["condition"] == "service_healthy"
    # A one-shot: restarting it would loop, and web/worker wait for its successful exit.
    assert services["migrate"].get("restart", "no") == "no"


def test_commands():
    services = _services()
    assert _command(services["migrate"]) == ["flask", "db", "upgrade"]
    assert _command(services["worker"]) == ["flask", "worker", "run"]
    assert _command(services["web"]) == GUNICORN
    assert "8000:8000" in services["web"]["ports"]


def test_commands_name_existing_cli_commands_and_app_factory():
    from flask_migrate.cli import db as db_group

    from callcenter.cli import worker

    assert "run" in worker.group.commands and worker.group.name == "worker"
    assert "upgrade" in db_group.commands
    _assert_app_spec_exists(_command(_services()["web"])[-1])


def test_web_healthcheck_requests_healthz():
    test = _services()["web"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    assert "urllib.request" in test[3] and "http://localhost:8000/healthz" in test[3]
    compile(test[3], "<healthcheck>", "exec")


def test_recordings_volume_is_shared_by_web_and_worker():
    services = _services()
    for name in ("web", "worker"):
        assert "recordings:/data/recordings" in services[name]["volumes"]


def test_compose_file_says_where_telephony_and_secrets_come_from():
    comments = []
    for line in COMPOSE_FILE.read_text().splitlines():
        if not line.startswith("#"):
            break
        comments.append(line.lstrip("#").strip())
    header = " ".join(" ".join(comments).lower().split())
    assert "freeswitch" in header and "telephony daemon" in header
    assert ".env" in header and "not committed" in header


def _compose_command() -> list[str] | None:
    """`docker compose` (the plugin) or Debian's `docker-compose`; `config` needs no engine."""
    if shutil.which("docker"):
        result = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, check=False
        )
        if result.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.mark.skipif(
    _compose_command() is None,
    reason="neither `docker compose` nor `docker-compose` is installed (make test installs it)",
)
def test_docker_compose_config_accepts_the_file(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {s.name for s in SETTINGS}}
    env.pop("POSTGRES_PASSWORD", None)
    # An empty project directory: a developer's .env must not hide a missing variable.
    base = [*_compose_command(), "-f", str(COMPOSE_FILE), "--project-directory", str(tmp_path)]
    ok = subprocess.run(
        [*base, "config", "--quiet"],
        env={**env, "SECRET_KEY": "x" * 64, "POSTGRES_PASSWORD": "p" * 24},
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    missing = subprocess.run(
        [*base, "config", "--quiet"], env=env, capture_output=True, text=True, check=False
    )
    assert missing.returncode != 0
    assert "SECRET_KEY" in missing.stderr or "POSTGRES_PASSWORD" in missing.stderr


# --- Dockerfile -----------------------------------------------------------------------------


def test_dockerfile_base_image_and_environment():
    instructions = _dockerfile()
    assert _args(instructions, "FROM") == ["python:3.11-slim-bookworm"]
    assert _args(instructions, "WORKDIR") == ["/app"]
    assert _args(instructions, "EXPOSE") == ["8000"]
    env = " ".join(_args(instructions, "ENV"))
    for setting in ("FLASK_APP=callcenter", "APP_ENV=production", "PYTHONUNBUFFERED=1"):
        assert setting in env.split()


def test_dockerfile_installs_ffmpeg_and_espeak_ng_lean():
    runs = _args(_dockerfile(), "RUN")
    apt = next(r for r in runs if "apt-get install" in r)
    assert "--no-install-recommends" in apt
    packages = apt.split()
    assert "ffmpeg" in packages and "espeak-ng" in packages
    assert "rm -rf /var/lib/apt/lists/*" in apt


def test_dockerfile_runs_as_non_root_user():
    instructions = _dockerfile()
    users = _args(instructions, "USER")
    assert users and users[-1] == "callcenter"
    assert any("useradd" in r and "callcenter" in r for r in _args(instructions, "RUN"))
    # USER comes after the last RUN (nothing later runs as root) and before CMD.
    keywords = [kw for kw, _ in instructions]
    last_user = len(keywords) - 1 - keywords[::-1].index("USER")
    assert "RUN" not in keywords[last_user:]
    assert keywords.index("CMD") > last_user


def test_dockerfile_installs_dependencies_before_copying_the_source():
    instructions = _dockerfile()
    copies = _args(instructions, "COPY")
    assert copies[0].split() == ["pyproject.toml", "README.md", "./"]
    assert copies[-1].split() == [".", "."]
    keywords = [kw for kw, _ in instructions]
    first_copy, last_copy = keywords.index("COPY"), len(keywords) - 1 - keywords[::-1].index("COPY")
    between = [args for kw, args in instructions[first_copy:last_copy] if kw == "RUN"]
    assert any("pip install" in r for r in between), "dependencies must be installed before COPY ."
    after = [args for kw, args in instructions[last_copy:] if kw == "RUN"]
    assert any("pip install --no-cache-dir ." in r for r in after)


def test_dockerfile_cmd_is_gunicorn_gthread_on_an_existing_factory():
    cmd = _exec_form(_args(_dockerfile(), "CMD")[-1])
    assert cmd == GUNICORN
    _assert_app_spec_exists(cmd[-1])


def test_dockerignore_keeps_local_state_and_tests_out():
    entries = {
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for entry in (".venv", "instance", ".git", "test-artifacts", "tests", ".env"):
        assert entry in entries
    assert any("__pycache__" in e for e in entries)
    # The image needs the packages and migrations/ (flask db upgrade runs from /app).
    for needed in ("migrations", "callcenter", "worker", "pyproject.toml", "README.md"):
        assert needed not in entries
