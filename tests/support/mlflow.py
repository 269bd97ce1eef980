"""A real MLflow tracking server (3.17.2, in its own virtualenv) on SQLite, on a free loopback port.

The bot never imports MLflow (its dependencies would pin ours); the tests drive MLflow with its
own interpreter: ``mlflow server`` to run, and short client scripts through that venv's Python.
``make mlflow-venv`` creates ``.venv-mlflow``; ``GITOPS_BOT_TEST_MLFLOW_VENV`` names another.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.botenv import free_port
from tests.support.requirements import require

ROOT = Path(__file__).resolve().parents[2]
MLFLOW_VERSION = "3.17.2"


def mlflow_venv() -> Path:
    venv = Path(os.environ.get("GITOPS_BOT_TEST_MLFLOW_VENV", ROOT / ".venv-mlflow"))
    require((venv / "bin" / "mlflow").exists(), f"MLflow {MLFLOW_VERSION} in {venv} (make mlflow-venv)")
    return venv


class MlflowServer:
    def __init__(self, url: str, venv: Path, env: dict[str, str]) -> None:
        self.url = url
        self._venv = venv
        self._env = env

    def client(self, script: str, **arguments: object) -> object:
        """Run ``script`` with MLflow's Python; it sees ``args`` (a dict) and ``client`` (an
        ``MlflowClient`` for this server) and sets ``result``, which is returned (JSON)."""
        program = (
            "import json, sys\n"
            "from mlflow import MlflowClient\n"
            "args = json.loads(sys.argv[1])\n"
            f"client = MlflowClient(tracking_uri={self.url!r}, registry_uri={self.url!r})\n"
            "result = None\n"
            f"{script}\n"
            "print(json.dumps(result))\n"
        )
        out = subprocess.run(
            [str(self._venv / "bin" / "python"), "-c", program, json.dumps(arguments)],
            capture_output=True,
            text=True,
            env=self._env,
            timeout=120,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"MLflow client script failed: {out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])


@contextmanager
def mlflow_server(root: Path) -> Iterator[MlflowServer]:
    venv = mlflow_venv()
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
        "MLFLOW_WEBHOOK_CACHE_TTL": "1",  # see a new webhook at once
        "MLFLOW_WEBHOOK_REQUEST_MAX_RETRIES": "1",
        "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": "bAmKM3g1e6ZGO2aZ4l7Ejg5mWjyvPNbt4l2CYLsxDkw=",
        # No job runner: webhooks are delivered from the server's own threads, and the runner's
        # seven consumer processes cost about 17 s of CPU per server while the tests use no job.
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    log = (root / "mlflow.log").open("wb")
    process = subprocess.Popen(
        [
            str(venv / "bin" / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--default-artifact-root",
            (root / "artifacts").as_uri(),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=root,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"MLflow did not start: {(root / 'mlflow.log').read_text()[-3000:]}"
                    ) from None
                time.sleep(0.25)
        yield MlflowServer(url, venv, env)
    finally:
        import signal

        try:
            os.killpg(process.pid, signal.SIGTERM)
            # A throwaway server, nothing of it kept: its graceful stop took 10-12 s at each module's end.
            process.wait(timeout=1)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
