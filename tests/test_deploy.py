"""The deployment: serve.sh's exact vLLM commands, the compose file, and two app instances sharing one Chroma server."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from core.pipeline import Pipeline
from core.settings import ENV_PREFIX, Settings
from tests.conftest import ROOT, SAMPLE, tiny_settings
from tests.test_store_server import free_port, start_chroma, stop

DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
RERANKER_OVERRIDES = ('{"architectures":["Qwen3ForSequenceClassification"],"classifier_from_token":["no","yes"],'
                      '"is_original_qwen3_reranker":true}')
VLLM_SERVICES = {"reranker": 8001, "embedding": 8002, "chat": 8003}


def serve_args(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run deploy/serve.sh with a stand-in `vllm` that prints the arguments it was given, one per line."""
    fake = tmp_path / "vllm"
    fake.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    clean = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT", "MAX_MODEL_LEN")}
    return subprocess.run([str(DEPLOY / "serve.sh"), *args], env={**clean, "VLLM": str(fake), **env},
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(("role", "expected"), [
    ("reranker", ["serve", "Qwen/Qwen3-Reranker-8B", "--host", "0.0.0.0", "--port", "8001", "--max-model-len", "8192",
                  "--runner", "pooling", "--hf-overrides", RERANKER_OVERRIDES]),
    ("embedding", ["serve", "Qwen/Qwen3-Embedding-0.6B", "--host", "0.0.0.0", "--port", "8002", "--max-model-len",
                   "8192", "--runner", "pooling", "--hf-overrides", '{"is_matryoshka": true}']),
    ("chat", ["serve", "Qwen/Qwen3-8B", "--host", "0.0.0.0", "--port", "8003", "--max-model-len", "8192",
              "--reasoning-parser", "qwen3"]),
])
def test_serve_sh_runs_the_documented_command(tmp_path, role, expected):
    done = serve_args(tmp_path, role)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == expected
    assert "--chat-template" not in done.stdout


def test_serve_sh_model_environment_and_extra_flags(tmp_path):
    done = serve_args(tmp_path, "reranker", "Qwen/Qwen3-Reranker-4B", "--quantization", "fp8",
                      HOST="127.0.0.1", PORT="9001", MAX_MODEL_LEN="4096")
    args = done.stdout.splitlines()
    assert args[:8] == ["serve", "Qwen/Qwen3-Reranker-4B", "--host", "127.0.0.1", "--port", "9001",
                        "--max-model-len", "4096"]
    assert args[-2:] == ["--quantization", "fp8"]


def test_serve_sh_refuses_an_unknown_role(tmp_path):
    done = serve_args(tmp_path, "rerank")
    assert done.returncode == 2 and "unknown role 'rerank': use reranker, embedding or chat" in done.stderr


def compose_problems(compose: dict) -> list[str]:
    """What is wrong with the compose file's structure: services, images, GPUs, health checks, POLYDESK_* names."""
    problems = []
    services = compose.get("services", {})
    missing = {*VLLM_SERVICES, "chroma", "postgres", "app"} - set(services)
    problems += [f"service {name} is missing" for name in sorted(missing)]
    for name, port in VLLM_SERVICES.items():
        service = services.get(name, {})
        if not str(service.get("image", "")).startswith("vllm/vllm-openai:"):
            problems.append(f"{name}: image must be vllm/vllm-openai")
        if service.get("entrypoint") != ["bash", "/polydesk/serve.sh"] or service.get("command", [None])[0] != name:
            problems.append(f"{name}: must run deploy/serve.sh {name}")
        if "./serve.sh:/polydesk/serve.sh:ro" not in service.get("volumes", []):
            problems.append(f"{name}: deploy/serve.sh is not mounted")
        devices = service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
        if not any("gpu" in device.get("capabilities", []) for device in devices):
            problems.append(f"{name}: no GPU reservation")
        if f"localhost:{port}/health" not in " ".join(service.get("healthcheck", {}).get("test", [])):
            problems.append(f"{name}: the health check must ask /health on port {port}")
    problems += [f"{name}: no health check" for name, service in services.items()
                 if not service.get("healthcheck", {}).get("test")]
    app = services.get("app", {})
    environment = app.get("environment", {})
    fields = {f"{ENV_PREFIX}{field.upper()}" for field in Settings.model_fields}
    problems += [f"app: {key} is not a setting" for key in environment
                 if key.startswith(ENV_PREFIX) and key not in fields]
    for key, host in [("POLYDESK_RERANKER_URL", "reranker:8001"), ("POLYDESK_EMBEDDING_URL", "embedding:8002"),
                      ("POLYDESK_LLM_URL", "chat:8003"), ("POLYDESK_CHROMA_URL", "chroma:8000")]:
        if environment.get(key) != f"http://{host}":
            problems.append(f"app: {key} must be http://{host}")
    if not str(environment.get("POLYDESK_DATABASE_URL", "")).startswith("postgresql+psycopg://"):
        problems.append("app: POLYDESK_DATABASE_URL must point at the postgres service")
    unhealthy = [name for name in services if name not in ("app", "api")
                 and app.get("depends_on", {}).get(name, {}).get("condition") != "service_healthy"]
    problems += [f"app: must wait for {name} to be healthy" for name in unhealthy]
    dockerfile = app.get("build", {}).get("dockerfile", "")
    if not (COMPOSE.parent / app.get("build", {}).get("context", ".") / dockerfile).is_file():
        problems.append(f"app: build file {dockerfile!r} does not exist")
    return problems


def test_compose_file_structure():
    assert compose_problems(yaml.safe_load(COMPOSE.read_text())) == []


def test_compose_check_catches_mistakes():
    compose = yaml.safe_load(COMPOSE.read_text())
    compose["services"]["app"]["environment"]["POLYDESK_RERANKR_URL"] = "http://reranker:8001"
    del compose["services"]["chroma"]["healthcheck"]
    compose["services"]["embedding"]["command"][0] = "reranker"
    compose["services"]["chat"]["deploy"] = {}
    assert compose_problems(compose) == [
        "embedding: must run deploy/serve.sh embedding", "chat: no GPU reservation", "chroma: no health check",
        "app: POLYDESK_RERANKR_URL is not a setting",
    ]


def compose_cli() -> list[str] | None:
    """`docker compose` (the plugin) or `docker-compose`, whichever works here; None when neither does."""
    candidates = [["docker", "compose"]] if shutil.which("docker") else []
    candidates += [["docker-compose"]] if shutil.which("docker-compose") else []
    for command in candidates:
        if subprocess.run([*command, "version"], capture_output=True, timeout=60).returncode == 0:
            return command
    return None


def test_docker_compose_config_accepts_the_file(tmp_path):
    command = compose_cli()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed (the structure test still ran)")
    env = {**os.environ, "POSTGRES_PASSWORD": "test"}
    done = subprocess.run([*command, "-f", str(COMPOSE), "config"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    assert resolved["services"]["app"]["environment"]["POLYDESK_DATABASE_URL"].endswith(":test@postgres:5432/polydesk")
    without = subprocess.run([*command, "-f", str(COMPOSE), "config"], capture_output=True, text=True, timeout=120,
                             env={k: v for k, v in os.environ.items() if k != "POSTGRES_PASSWORD"})
    assert without.returncode != 0 and "set POSTGRES_PASSWORD" in without.stdout + without.stderr


def test_dockerfile_copies_what_exists_and_is_not_ignored():
    copies = [line.split()[1:-1] for line in (DEPLOY / "Dockerfile").read_text().splitlines()
              if line.startswith("COPY ")]
    sources = [source for group in copies for source in group]
    kept = {line.lstrip("!").rstrip("/") for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
            if line.startswith("!")}
    assert {"core", "streamlit_app.py", "pages"} <= set(sources)
    assert [s for s in sources if not (ROOT / s).exists() or s not in kept] == []


def test_two_app_instances_share_one_chroma_server(tmp_path, reranker_dir, embedder_dir):
    port = free_port()
    server = start_chroma(tmp_path / "server-data", port)
    try:
        settings = tiny_settings(reranker_dir, embedder_dir, tmp_path / "unused", chroma_url=f"http://127.0.0.1:{port}")
        writer, reader = Pipeline(settings), Pipeline(settings)
        writer.ingest([SAMPLE / "en" / "errors.md"], "shared")
        before = reader.search("zyxwarehouse quokka", ["shared"], top_n=50)
        assert not any("quokka" in c.chunk.text for c in before.candidates)
        page = tmp_path / "docs" / "warehouses.md"
        page.parent.mkdir()
        page.write_text("# Warehouses\n\nThe zyxwarehouse quokka depot accepts parcels on Sundays.\n")
        writer.ingest([page], "shared")
        after = reader.search("zyxwarehouse quokka", ["shared"], top_n=50)
        found = [c for c in after.candidates if "quokka" in c.chunk.text]
        assert found and found[0].lexical_rank == 1, "the reader's lexical index must follow the writer's ingest"
        writer.store.delete_source("shared", "warehouses.md")
        gone = reader.search("zyxwarehouse quokka", ["shared"], top_n=50)
        assert not any("quokka" in c.chunk.text for c in gone.candidates)
    finally:
        stop(server)


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory, chat_model_dir):
    """`deploy/serve.sh chat` on the tiny chat checkpoint, as CI runs the documented command."""
    from tests import vllm_servers as vllm

    vllm.require_vllm()
    server = vllm.start("chat", chat_model_dir, "tiny-chat", tmp_path_factory.mktemp("vllm-chat"))
    try:
        vllm.wait_ready(server)
        yield server
    finally:
        server.stop()


@pytest.mark.vllm
def test_serve_sh_chat_serves_the_chat_model(chat_server, tmp_path):
    import openai

    from core.models.chat.http import OpenAIChatGenerator
    from core.ops.doctor import diagnose
    from core.settings import load_settings

    client = openai.OpenAI(base_url=f"{chat_server.url}/v1", api_key="EMPTY", timeout=120)
    completion = client.chat.completions.create(
        model="tiny-chat", messages=[{"role": "user", "content": "Hello"}], max_tokens=4,
        extra_body={"chat_template_kwargs": {"enable_thinking": False}, "min_tokens": 4, "ignore_eos": True},
    )
    assert completion.usage.completion_tokens == 4
    generator = OpenAIChatGenerator(chat_server.url, "tiny-chat", thinking="off", max_tokens=4,
                                    first_token_timeout=120, total_timeout=240)
    list(generator.stream([{"role": "user", "content": "Hello"}]))  # raises BackendUnavailable on any failure
    settings = load_settings(llm_url=chat_server.url, llm_model="tiny-chat", chroma_path=tmp_path / "chroma")
    llm = next(c for c in diagnose(settings).checks if c.name == "LLM")
    assert llm.state == "ok" and llm.detail == "reachable, model served"
