"""Static checks of the Dockerfile, docker-compose.yml and deploy/freeswitch (no Docker engine).

The compose file is read with PyYAML (anchors and ``<<`` merges resolved the way Compose resolves
them); the Dockerfile is read instruction by instruction. ``docker compose config`` is run as well
when the compose plugin is installed: it validates against Compose's own schema and needs no engine.
The FreeSWITCH overlay's XML files are parsed with ElementTree; FreeSWITCH's pre-processor lines
(``<X-PRE-PROCESS .../>``) are ordinary elements to it.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath

import pytest
import yaml

from callcenter.config import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
FREESWITCH_DIR = ROOT / "deploy" / "freeswitch"
FREESWITCH_CONF = PurePosixPath("/etc/freeswitch")

SERVICES = {"postgres", "redis", "migrate", "web", "worker", "freeswitch", "telephony"}
APP_SERVICES = ("migrate", "web", "worker")
# Variables the compose file may read besides the product's own settings: the database password
# and the FreeSWITCH secrets (event socket, the agents' SIP accounts).
DEPLOYMENT_VARIABLES = {"POSTGRES_PASSWORD", "ESL_PASSWORD", "AGENT_SIP_PASSWORD"}
# The variables `docker compose` refuses to start without.
REQUIRED_SECRETS = (
    "SECRET_KEY",
    "RECORDING_KEYS",
    "POSTGRES_PASSWORD",
    "ESL_PASSWORD",
    "AGENT_SIP_PASSWORD",
)
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY$")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, ${NAME:+alt}, $NAME;
# a doubled $$ is a literal dollar sign.
INTERPOLATION = re.compile(
    r"(?<!\$)\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<rest>[^}]*)\}|(?P<bare>[A-Za-z_]\w*))"
)
REQUIRED_VARIABLE = re.compile(r"^\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*):\?[^}]+\}$")
URL_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^:/@]+:(?P<password>[^@]*)@", re.IGNORECASE)
# ESL_NODES entries: name=esl://:password@host:port (the user part is empty).
ESL_NODE = re.compile(
    r"^(?P<name>[\w-]+)=esl://:(?P<password>[^@]*)@(?P<host>[\w.-]+):(?P<port>\d+)$"
)
# A FreeSWITCH pre-processor variable reference, the only acceptable password value in deploy/.
PREPROCESSOR_VARIABLE = re.compile(r"^\$\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
# Any attribute value of an XML param whose name ends in "password" (password, vm-password, ...).
PASSWORD_VALUE = re.compile(r'password"\s+value="(?P<value>[^"]*)"', re.IGNORECASE)
# A pre-processor "set" of a password variable to a literal (env-set is the way in).
PASSWORD_SET = re.compile(r'cmd="set"\s+data="[^"=]*password[^"=]*=', re.IGNORECASE)
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


def test_compose_defines_the_seven_services_and_named_volumes():
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
    assert {"SECRET_KEY", "POSTGRES_PASSWORD", "ESL_PASSWORD", "AGENT_SIP_PASSWORD"} <= used
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


def test_freeswitch_telephony_and_worker_mount_recordings_where_recordings_dir_points():
    """FreeSWITCH writes to the path the daemon puts in the originate: the same path everywhere."""
    services = _services()
    recordings_dir = services["telephony"]["environment"]["RECORDINGS_DIR"]
    assert recordings_dir == services["worker"]["environment"]["RECORDINGS_DIR"]
    for name in ("freeswitch", "telephony", "worker"):
        assert f"recordings:{recordings_dir}" in services[name]["volumes"], name


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
    for name in REQUIRED_SECRETS:
        env.pop(name, None)
    secrets = {name: name.lower().replace("_", "") * 3 for name in REQUIRED_SECRETS}
    # An empty project directory: a developer's .env must not hide a missing variable.
    base = [*_compose_command(), "-f", str(COMPOSE_FILE), "--project-directory", str(tmp_path)]
    ok = subprocess.run(
        [*base, "config", "--quiet"],
        env={**env, **secrets},
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    missing = subprocess.run(
        [*base, "config", "--quiet"], env=env, capture_output=True, text=True, check=False
    )
    assert missing.returncode != 0
    assert any(name in missing.stderr for name in REQUIRED_SECRETS), missing.stderr
    # Each secret on its own is required: leaving out any one of them is refused.
    for name in REQUIRED_SECRETS:
        partial = {k: v for k, v in secrets.items() if k != name}
        result = subprocess.run(
            [*base, "config", "--quiet"],
            env={**env, **partial},
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode != 0, f"compose starts without {name}"
        assert name in result.stderr, result.stderr


# --- FreeSWITCH and the telephony daemon ----------------------------------------------------


def _freeswitch_mounts() -> list[tuple[Path, PurePosixPath, str]]:
    """(repo path, container path, mode) for every bind mount of the freeswitch service."""
    mounts = []
    for volume in _services()["freeswitch"]["volumes"]:
        source, target, *mode = volume.split(":")
        if source.startswith((".", "/")):
            mounts.append((ROOT / source, PurePosixPath(target), mode[0] if mode else "rw"))
    return mounts


def _freeswitch_files(pattern: str = "*") -> list[Path]:
    return sorted(p for p in FREESWITCH_DIR.rglob(pattern) if p.is_file())


def _overlay_xml_files() -> list[Path]:
    return [p for p in _freeswitch_files() if p.name.endswith((".xml", ".xml.example"))]


def _params(path: Path) -> dict[str, str]:
    root = ET.parse(path).getroot()
    return {p.get("name"): p.get("value") for p in root.iter("param")}


def _env_sets(path: Path) -> dict[str, str]:
    """Pre-processor variable -> environment variable, from env-set lines."""
    sets = {}
    for element in ET.parse(path).getroot().iter("X-PRE-PROCESS"):
        if element.get("cmd") == "env-set":
            name, _, value = element.get("data").partition("=")
            assert value.startswith("$") and value[1:].isidentifier(), element.get("data")
            sets[name] = value[1:]
    return sets


def test_freeswitch_service_image_ports_and_healthcheck():
    freeswitch = _services()["freeswitch"]
    image, _, tag = freeswitch["image"].partition(":")
    assert image and tag.startswith("1.10."), "pin a FreeSWITCH 1.10 image tag"
    ports = set(freeswitch["ports"])
    for port in ("5060:5060/udp", "5060:5060/tcp", "5080:5080/udp", "16384-16484:16384-16484/udp"):
        assert port in ports
    assert not any("8021" in port for port in ports), "the event socket must not be published"
    test = freeswitch["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL" and "fs_cli" in test[1] and "-x status" in test[1]
    # The password is read from the container's environment ($$ = a literal $ for compose).
    assert '-p "$$ESL_PASSWORD"' in test[1]


def test_freeswitch_rtp_range_matches_the_published_ports():
    settings = _params(FREESWITCH_DIR / "autoload_configs" / "switch.conf.xml")
    published = next(
        p for p in _services()["freeswitch"]["ports"] if p.endswith("/udp") and "-" in p
    )
    host_range = published.split(":")[0]
    assert host_range == f"{settings['rtp-start-port']}-{settings['rtp-end-port']}"


def test_freeswitch_secrets_come_from_required_variables():
    env = _services()["freeswitch"]["environment"]
    assert REQUIRED_VARIABLE.match(env["ESL_PASSWORD"])["name"] == "ESL_PASSWORD"
    assert REQUIRED_VARIABLE.match(env["AGENT_SIP_PASSWORD"])["name"] == "AGENT_SIP_PASSWORD"


def test_every_overlay_file_mounted_into_freeswitch_exists_and_is_read_only():
    mounts = _freeswitch_mounts()
    assert mounts
    for source, target, mode in mounts:
        assert source.exists(), f"{source} is mounted into freeswitch but missing"
        assert FREESWITCH_DIR in source.resolve().parents, f"{source} is outside deploy/freeswitch"
        assert mode == "ro", f"{source} must be mounted read-only"
        relative = source.resolve().relative_to(FREESWITCH_DIR)
        assert target == FREESWITCH_CONF / relative.as_posix(), (source, target)
        assert source.is_dir() or source.suffix == ".xml", source


def test_every_active_overlay_file_is_mounted():
    """Each .xml file under deploy/freeswitch reaches the container: unmounted, it does nothing."""
    mounted = [source.resolve() for source, _, _ in _freeswitch_mounts()]
    for path in _freeswitch_files("*.xml"):
        assert any(path == m or m in path.parents for m in mounted), f"{path} is not mounted"


def test_every_freeswitch_xml_file_parses():
    files = _overlay_xml_files()
    assert len(files) >= 6
    for path in files:
        ET.parse(path)  # raises on malformed XML


def test_freeswitch_preprocessor_lines_stand_alone():
    """FreeSWITCH's pre-processor reads line by line: it handles a line holding X-PRE-PROCESS as
    that one command (dropping the rest of the line, and the line itself when the name is not
    right after a '<'), skips lines holding <include>, </include> or <?, and expands $${...} even
    inside comments (where it would copy secrets into the expanded file)."""
    for path in _overlay_xml_files():
        in_comment = False
        for number, line in enumerate(path.read_text().splitlines(), 1):
            where = f"{path.relative_to(ROOT)}:{number}"
            stripped = line.strip()
            if "x-pre-process" in line.lower():
                assert re.fullmatch(r'<X-PRE-PROCESS cmd="[\w-]+" data="[^"]*"/>', stripped), where
            if any(tag in line for tag in ("<include>", "</include>", "<?")):
                assert stripped in ("<include>", "</include>") or stripped.startswith("<?xml"), (
                    where
                )
            if "<!--" in line:
                in_comment = True
            if in_comment:
                assert "$${" not in line, f"{where}: pre-processor variable inside a comment"
                assert "<!--#" not in line, where
            if "-->" in line:
                in_comment = False


def test_event_socket_password_is_an_environment_variable_and_acl_is_defined():
    path = FREESWITCH_DIR / "autoload_configs" / "event_socket.conf.xml"
    params = _params(path)
    assert params["listen-ip"] == "0.0.0.0"
    assert params["listen-port"] == "8021"
    password = params["password"]
    assert PREPROCESSOR_VARIABLE.match(password), "the ESL password must be a $${...} variable"
    assert _env_sets(path)[password[3:-1]] == "ESL_PASSWORD"
    acl = params["apply-inbound-acl"]
    lists = ET.parse(FREESWITCH_DIR / "autoload_configs" / "acl.conf.xml").getroot().iter("list")
    (esl_list,) = [item for item in lists if item.get("name") == acl]
    assert esl_list.get("default") == "deny"
    cidrs = {node.get("cidr") for node in esl_list.iter("node") if node.get("type") == "allow"}
    assert "127.0.0.0/8" in cidrs, "fs_cli (the healthcheck) connects over loopback"
    assert "0.0.0.0/0" not in cidrs


def test_acl_keeps_the_vanilla_lists_the_sip_profiles_use():
    lists = ET.parse(FREESWITCH_DIR / "autoload_configs" / "acl.conf.xml").getroot().iter("list")
    assert {"lan", "domains"} <= {item.get("name") for item in lists}


def test_dialplan_hands_ivr_calls_to_the_socket_server_async_full():
    path = FREESWITCH_DIR / "dialplan" / "default" / "00_callcenter.xml"
    actions = [
        a for a in ET.parse(path).getroot().iter("action") if a.get("application") == "socket"
    ]
    assert actions
    for action in actions:
        address, *flags = action.get("data").split()
        assert address == "${ivr_socket}"
        assert flags == ["async", "full"]
    assert _env_sets(path)["ivr_socket"] == "IVR_SOCKET_ADDRESS"
    services = _services()
    ivr_address = services["telephony"]["environment"]["IVR_SOCKET_ADDRESS"]
    assert services["freeswitch"]["environment"]["IVR_SOCKET_ADDRESS"] == ivr_address
    assert ivr_address.split(":")[0] == "telephony"


def test_agents_directory_defines_1001_to_1010_with_an_environment_password():
    path = FREESWITCH_DIR / "directory" / "default" / "callcenter_agents.xml"
    users = list(ET.parse(path).getroot().iter("user"))
    assert [u.get("id") for u in users] == [str(n) for n in range(1001, 1011)]
    env_sets = _env_sets(path)
    for user in users:
        params = {p.get("name"): p.get("value") for p in user.iter("param")}
        variables = {v.get("name"): v.get("value") for v in user.iter("variable")}
        assert PREPROCESSOR_VARIABLE.match(params["password"]), user.get("id")
        assert env_sets[params["password"][3:-1]] == "AGENT_SIP_PASSWORD"
        assert variables["user_context"] == "default"


def test_carrier_gateway_example_is_inactive():
    example = FREESWITCH_DIR / "sip_profiles" / "external" / "carrier.xml.example"
    gateways = list(ET.parse(example).getroot().iter("gateway"))
    assert [g.get("name") for g in gateways] == ["carrier"]
    # FreeSWITCH includes sip_profiles/external/*.xml only; the example must stay unmounted.
    assert not (example.parent / "carrier.xml").exists()
    assert example.resolve() not in [s.resolve() for s, _, _ in _freeswitch_mounts()]


def test_no_literal_passwords_in_deploy():
    checked = 0
    for path in sorted(p for p in (ROOT / "deploy").rglob("*") if p.is_file()):
        for match in PASSWORD_VALUE.finditer(path.read_text()):
            assert PREPROCESSOR_VARIABLE.match(match["value"]), (
                f"{path.relative_to(ROOT)}: literal password {match['value']!r}; "
                "use a $${...} variable set from the environment (env-set)"
            )
            checked += 1
        assert not PASSWORD_SET.search(path.read_text()), f"{path}: password set to a literal"
    assert checked >= 10 + 2  # ten agents, the event socket, the example trunk


def test_telephony_service_runs_the_daemon_from_the_app_image():
    services = _services()
    telephony = services["telephony"]
    assert telephony["image"] == services["web"]["image"]
    assert telephony["build"] == services["web"]["build"]
    assert _command(telephony) == ["flask", "telephony", "run"]
    env = telephony["environment"]
    # The shared application environment, plus the telephony settings.
    assert {k: v for k, v in env.items() if k not in ("ESL_NODES", "IVR_SOCKET_ADDRESS")} == (
        services["web"]["environment"]
    )
    documented = {s.name for s in SETTINGS}
    assert set(env) <= documented, f"undocumented settings: {sorted(set(env) - documented)}"
    depends_on = telephony["depends_on"]
    assert depends_on["migrate"]["condition"] == "service_completed_successfully"
    assert depends_on["freeswitch"]["condition"] in ("service_started", "service_healthy")
    assert depends_on["redis"]["condition"] == "service_healthy"
    assert depends_on["postgres"]["condition"] == "service_healthy"


def test_telephony_cli_command_exists():
    from callcenter.cli import telephony

    assert telephony.group.name == "telephony" and "run" in telephony.group.commands


def test_esl_nodes_point_at_the_freeswitch_service_with_the_environment_password():
    services = _services()
    value = services["telephony"]["environment"]["ESL_NODES"]
    # Nodes are separated by spaces once compose has interpolated; an interpolation's error
    # message may hold spaces itself, so set the interpolations aside before splitting.
    interpolations: list[str] = []

    def set_aside(match: re.Match) -> str:
        interpolations.append(match[0])
        return f"__interpolation{len(interpolations) - 1}__"

    nodes = INTERPOLATION.sub(set_aside, value).split()
    assert nodes
    for node in nodes:
        match = ESL_NODE.match(node)
        assert match, node
        assert match["host"] == "freeswitch" and match["port"] == "8021"
        password = re.sub(
            r"__interpolation(\d+)__", lambda m: interpolations[int(m[1])], match["password"]
        )
        assert REQUIRED_VARIABLE.match(password)["name"] == "ESL_PASSWORD"
    # Web and worker never open ESL connections: they do not get the password.
    for name in ("web", "worker", "migrate"):
        assert "ESL_PASSWORD" not in str(services[name].get("environment"))


def test_esl_nodes_parse_as_the_daemon_reads_them():
    from callcenter.telephony.daemon import parse_nodes

    value = _services()["telephony"]["environment"]["ESL_NODES"]
    resolved = INTERPOLATION.sub("0123abcd", value)  # what compose hands the container
    (config,) = parse_nodes(resolved)
    assert (config.name, config.host, config.port, config.password) == (
        "fs1",
        "freeswitch",
        8021,
        "0123abcd",
    )


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


def test_dockerfile_fetches_both_speech_models_at_build_time():
    from recordings.models import download_model  # the function the build step calls

    text = DOCKERFILE.read_text()
    runs = [line for line in text.splitlines() if "download_model" in line]
    assert runs and runs[0].startswith("RUN python -c")
    assert "('zh', 'en')" in runs[0] and "/opt/models" in runs[0]
    assert "ENV MODELS_DIR=/opt/models" in text
    assert callable(download_model)
