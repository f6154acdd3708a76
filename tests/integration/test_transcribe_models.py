"""``flask models download``: a real HTTP server, real zip archives, real hash checks.

This machine reaches no model site, so a local ``http.server`` serves archives the tests build;
the code under test is the production download path, only its URL base and expected hash differ.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import stat
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from callcenter import create_app
from recordings.models import (
    OFFICIAL_MODELS,
    ModelDownloadError,
    OfficialModel,
    download_model,
)

ZH = OFFICIAL_MODELS["zh"].name
EN = OFFICIAL_MODELS["en"].name
# Random-looking bytes: the "acoustic model" must come out byte for byte.
FINAL_MDL = hashlib.sha256(b"am").digest() * 4096


class Server:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), partial(Handler, directory=str(root))
        )
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/vosk/models"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def publish(self, name: str, data: bytes) -> str:
        """Serve ``data`` as ``<name>.zip``; return its SHA-256."""
        folder = self.root / "vosk" / "models"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.zip").write_bytes(data)
        return hashlib.sha256(data).hexdigest()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    served = Server(tmp_path / "site")
    served.thread.start()
    yield served
    served.httpd.shutdown()
    served.httpd.server_close()
    served.thread.join()


def model_zip(top: str, extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{top}/", b"")
        zf.writestr(f"{top}/conf/mfcc.conf", b"--sample-frequency=16000\n")
        zf.writestr(f"{top}/am/final.mdl", FINAL_MDL)
        zf.writestr(f"{top}/README", b"small test model\n")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buffer.getvalue()


def trust(monkeypatch, language: str, sha256: str) -> None:
    """Point the hash table at the test's archive, as a release would for a new model."""
    spec = OFFICIAL_MODELS[language]
    monkeypatch.setitem(OFFICIAL_MODELS, language, OfficialModel(spec.name, sha256, spec.size))


def test_download_verifies_and_unpacks(server, monkeypatch, tmp_path: Path):
    trust(monkeypatch, "zh", server.publish(ZH, model_zip(ZH)))
    dest = tmp_path / "models"

    result = download_model("zh", dest, url_base=server.url)

    assert (result.path, result.skipped) == (dest / ZH, False)
    assert (dest / ZH / "am" / "final.mdl").read_bytes() == FINAL_MDL
    assert (dest / ZH / "conf" / "mfcc.conf").read_text() == "--sample-frequency=16000\n"
    assert sorted(p.name for p in dest.iterdir()) == [ZH]  # no temp files left
    assert server.requests == [f"/vosk/models/{ZH}.zip"]

    again = download_model("zh", dest, url_base=server.url)
    assert (again.path, again.skipped) == (dest / ZH, True)
    assert len(server.requests) == 1  # the second run fetched nothing


def test_a_hash_mismatch_leaves_nothing_behind(server, tmp_path: Path):
    server.publish(ZH, model_zip(ZH))  # the table still holds the real archive's hash
    dest = tmp_path / "models"

    with pytest.raises(ModelDownloadError, match="SHA-256 mismatch") as failed:
        download_model("zh", dest, url_base=server.url)

    assert OFFICIAL_MODELS["zh"].sha256 in str(failed.value)
    assert list(dest.iterdir()) == []


def symlink_zip(top: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(f"{top}/conf/mfcc.conf", b"")
        link = zipfile.ZipInfo(f"{top}/conf/passwd")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("archive", "message"),
    [
        (model_zip(ZH, {f"{ZH}/../../escaped.txt": b"x"}), "is outside"),
        (model_zip(ZH, {"/tmp/absolute.txt": b"x"}), "is outside"),
        (model_zip(ZH, {"other-top/file": b"x"}), "is outside"),
        (symlink_zip(ZH), "symbolic link"),
        (model_zip("wrong-name"), "is outside"),
        (b"PK but not really a zip", "not a zip archive"),
    ],
    ids=["dotdot", "absolute", "second-top-folder", "symlink", "wrong-top", "not-zip"],
)
def test_unsafe_archives_are_refused(server, monkeypatch, tmp_path: Path, archive, message):
    trust(monkeypatch, "zh", server.publish(ZH, archive))
    dest = tmp_path / "a" / "b" / "models"

    with pytest.raises(ModelDownloadError, match=message):
        download_model("zh", dest, url_base=server.url)

    assert list(dest.iterdir()) == []
    assert not list(tmp_path.rglob("escaped.txt"))


def test_server_errors_are_clear(server, tmp_path: Path):
    with pytest.raises(ModelDownloadError, match=rf"{ZH}\.zip: server answered HTTP 404"):
        download_model("zh", tmp_path / "models", url_base=server.url)
    assert list((tmp_path / "models").iterdir()) == []

    port = server.httpd.server_address[1]
    server.httpd.shutdown()
    server.httpd.server_close()
    with pytest.raises(ModelDownloadError, match="download failed after 0 bytes"):
        download_model("zh", tmp_path / "models", url_base=f"http://127.0.0.1:{port}/x")


def test_other_bad_input(tmp_path: Path):
    with pytest.raises(ModelDownloadError, match="no official model for 'fr'"):
        download_model("fr", tmp_path)
    with pytest.raises(ModelDownloadError, match="only http"):
        download_model("zh", tmp_path, url_base="file:///etc")
    (tmp_path / ZH).mkdir()
    (tmp_path / ZH / "junk").write_text("half a model from a crash")
    with pytest.raises(ModelDownloadError, match="holds no Vosk model"):
        download_model("zh", tmp_path)


@pytest.fixture
def cli_app(tmp_path: Path):
    # The models commands never touch the database; an unmigrated SQLite file is enough.
    return create_app(
        {
            "APP_ENV": "test",
            "TESTING": True,
            "SECRET_KEY": "test",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "MODELS_DIR": str(tmp_path / "models"),
            "VOSK_MODEL_ZH": "",
            "VOSK_MODEL_EN": "",
            "TRANSCRIBE_ENGINE": "vosk",
        }
    )


def test_cli_download_and_show(cli_app, server, monkeypatch, tmp_path: Path):
    runner = cli_app.test_cli_runner()
    models_dir = tmp_path / "models"

    shown = runner.invoke(args=["models", "show"])
    assert shown.exit_code == 1
    assert "zh: vosk: MISSING" in shown.output and "flask models download zh" in shown.output

    server.publish(ZH, model_zip(ZH))
    failed = runner.invoke(args=["models", "download", "zh", "--url-base", server.url])
    assert failed.exit_code == 1
    assert "SHA-256 mismatch" in failed.output
    assert not models_dir.exists() or list(models_dir.iterdir()) == []

    trust(monkeypatch, "zh", server.publish(ZH, model_zip(ZH)))
    trust(monkeypatch, "en", server.publish(EN, model_zip(EN)))
    done = runner.invoke(args=["models", "download", "zh", "--url-base", server.url])
    assert done.exit_code == 0, done.output
    assert f"verified and installed at {models_dir / ZH}" in done.output

    # The mirror can come from the environment; --dest overrides MODELS_DIR.
    elsewhere = tmp_path / "elsewhere"
    env = {"MODELS_URL_BASE": server.url}
    done = runner.invoke(args=["models", "download", "en", "--dest", str(elsewhere)], env=env)
    assert done.exit_code == 0, done.output
    assert (elsewhere / EN / "am" / "final.mdl").read_bytes() == FINAL_MDL

    again = runner.invoke(args=["models", "download", "zh", "--url-base", server.url])
    assert again.exit_code == 0 and "already present" in again.output

    done = runner.invoke(args=["models", "download", "en"], env=env)
    shown = runner.invoke(args=["models", "show"])
    assert shown.exit_code == 0, shown.output
    assert f"zh: vosk: {models_dir / ZH}" in shown.output
    assert f"en: vosk: {models_dir / EN}" in shown.output

    bad = runner.invoke(args=["models", "download", "fr"])
    assert bad.exit_code == 2 and "'fr' is not one of" in bad.output
