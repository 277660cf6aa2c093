"""The registry path against a real ``mlflow server`` over HTTP on localhost (not sqlite direct).

An untrained tiny model is enough: the test is about logging, registering, aliasing, resolving
and loading through the tracking server, and about credentials never reaching messages.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from helpers import make_settings
from window_factory import make_windows, untrained_model

from ubsd.registry.publish import log_and_register
from ubsd.registry.resolve import RegistryError, resolve
from ubsd.sessionize.spec import feature_spec


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    mlflow_bin = Path(sys.executable).parent / "mlflow"
    proc = subprocess.Popen(
        [
            str(mlflow_bin),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{root}/server.db",
            "--artifacts-destination",
            str(root / "artifacts"),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    url = f"http://127.0.0.1:{port}"
    # Seconds alone; minutes on a loaded 2-core machine (it once missed a 180 s deadline there).
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"mlflow server exited with {proc.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(1)
    else:
        proc.kill()
        pytest.fail("mlflow server did not start within 600 s")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_register_resolve_and_load_over_http(server, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    settings = make_settings(
        tmp_path,
        "model.size=tiny",
        "sessionize.window_length=16",
        "sessionize.window_stride=8",
        "mlflow.registered_model=ubsd-http",
    )
    spec = feature_spec(settings.sessionize)
    w = make_windows(spec, 40, 4)
    model = untrained_model(settings, w, spec, trained_id="http-test")
    reg = log_and_register(settings, model, {"size": "tiny"}, {"x": 1.0})
    assert reg.version == "1" and reg.alias == "challenger"
    got = resolve(settings, alias="challenger", cache_dir=tmp_path / "dl")
    assert got.version == "1"
    p1, z1 = model.score_arrays(w.features)
    p2, z2 = got.load().score_arrays(w.features)
    np.testing.assert_allclose(p1, p2, atol=1e-6)
    np.testing.assert_allclose(z1, z2, atol=1e-5)
    assert not list(Path(settings.storage.root).glob("mlflow.db")), "the env var must win"


def test_server_down_is_a_clear_error_without_credentials(tmp_path, monkeypatch):
    port = _free_port()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://svc:hunter2@127.0.0.1:{port}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    settings = make_settings(tmp_path)
    with pytest.raises(RegistryError) as err:
        resolve(settings)
    msg = str(err.value)
    assert "ubsd-behavior@champion" in msg and "127.0.0.1" in msg
    assert "hunter2" not in msg


def test_user_env_uri_keeps_winning_after_configure(tmp_path, monkeypatch):
    """A URI ubsd set itself must not win later; the user's own env var must, every time."""
    from ubsd.registry.tracking import configure, tracking_uri

    own = make_settings(tmp_path / "a")
    configure(own)  # mlflow writes this sqlite URI into MLFLOW_TRACKING_URI
    other = make_settings(tmp_path / "b")
    assert tracking_uri(other).startswith(f"sqlite:///{(tmp_path / 'b').resolve()}")
    user = f"sqlite:///{tmp_path}/user.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", user)
    for _ in range(2):
        configure(other)
        assert tracking_uri(other) == user
