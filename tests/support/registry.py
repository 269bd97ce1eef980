"""A real CNCF distribution registry (Debian's ``docker-registry``) and images pushed with skopeo.

``oci_layout`` writes a tiny, valid OCI image layout (one layer, one config) without any
container tooling, so ``skopeo copy oci:<dir>:<tag> docker://…`` has something real to push.
The registry sends its notifications (the bot's ``/webhooks/registry``) like a production one.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.botenv import free_port
from tests.support.requirements import require


def require_registry() -> tuple[str, str]:
    registry = shutil.which(os.environ.get("GITOPS_BOT_TEST_REGISTRY", "docker-registry")) or shutil.which(
        "registry"
    )
    skopeo = shutil.which("skopeo")
    require(registry is not None and skopeo is not None, "a CNCF registry (docker-registry) and skopeo")
    assert registry is not None and skopeo is not None
    return registry, skopeo


def _blob(layout: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return f"sha256:{digest}", len(data)


def oci_layout(directory: Path, tag: str, content: str) -> str:
    """An OCI image layout holding one image tagged ``tag``; returns the manifest digest."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = content.encode()
        info = tarfile.TarInfo("srv/model.txt")
        info.size = len(data)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(data))
    layer_tar = raw.getvalue()
    layer = gzip.compress(layer_tar, mtime=0)
    layer_digest, layer_size = _blob(directory, layer)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(layer_tar).hexdigest()}"]},
    }
    config_digest, config_size = _blob(directory, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": layer_digest,
                "size": layer_size,
            }
        ],
    }
    manifest_digest, manifest_size = _blob(directory, json.dumps(manifest).encode())
    index_path = directory / "index.json"
    index = (
        json.loads(index_path.read_text()) if index_path.exists() else {"schemaVersion": 2, "manifests": []}
    )
    index["manifests"].append(
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }
    )
    index_path.write_text(json.dumps(index))
    return manifest_digest


class Registry:
    def __init__(self, address: str, skopeo: str) -> None:
        self.address = address  # host:port, what image references and notifications name
        self._skopeo = skopeo

    def push(self, layout: Path, tag: str, repository: str) -> None:
        subprocess.run(
            [
                self._skopeo,
                "copy",
                "--quiet",
                "--dest-tls-verify=false",
                "--preserve-digests",
                f"oci:{layout}:{tag}",
                f"docker://{self.address}/{repository}:{tag}",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )


@contextmanager
def registry(root: Path, *, notify_url: str, token: str) -> Iterator[Registry]:
    """A registry on a free loopback port whose notifications go to ``notify_url`` with ``token``."""
    binary, skopeo = require_registry()
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    config = root / "registry.yml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "version": 0.1,
                "log": {"level": "warn"},
                "storage": {"filesystem": {"rootdirectory": str(root / "data")}, "delete": {"enabled": True}},
                "http": {"addr": f"127.0.0.1:{port}", "secret": "test-secret"},
                "notifications": {
                    "endpoints": [
                        {
                            "name": "gitops-bot",
                            "url": notify_url,
                            "headers": {"Authorization": [f"Bearer {token}"]},
                            "timeout": "5s",
                            "threshold": 3,
                            "backoff": "1s",
                            "ignoredmediatypes": ["application/octet-stream"],
                        }
                    ]
                },
            }
        )
    )
    log = (root / "registry.log").open("wb")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1):
                    break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the registry did not start: {(root / 'registry.log').read_text()}"
                    ) from None
                time.sleep(0.1)
        yield Registry(f"127.0.0.1:{port}", skopeo)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
