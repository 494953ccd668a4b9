"""Two writers on one store at once (CLI processes, embedded store and Chroma server): nothing is lost silently."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import chromadb
import pytest

from core.errors import StoreBusy
from core.knowledge.store import PREFIX, ChromaStore
from core.knowledge.write_lock import FileWriteLock, ServerLease
from tests.test_store_server import free_port, start_chroma, stop

POLYDESK = str(Path(sys.executable).with_name("polydesk"))
PHRASES = {
    "en": "The Lumo API sends a webhook for every parcel scan. Retry a failed delivery after {n} minutes.",
    "de": "Die Lumo-API sendet für jeden Paketscan einen Webhook. Wiederholen Sie nach {n} Minuten.",
    "fr": "L'API Lumo envoie un webhook à chaque scan de colis. Réessayez après {n} minutes.",
    "ja": "Lumo API は荷物のスキャンごとに Webhook を送信します。{n} 分後に再試行してください。",
}


def write_docs(folder: Path, prefix: str, count: int) -> set[str]:
    """`count` small Markdown pages about a fictional API, in several languages; returns their file names."""
    folder.mkdir(parents=True)
    languages = list(PHRASES)
    for n in range(count):
        language = languages[n % len(languages)]
        body = "\n\n".join(PHRASES[language].format(n=n + i) for i in range(3))
        (folder / f"{prefix}-{n:02d}.md").write_text(f"# {prefix} {n}\n\n## Webhooks\n\n{body}\n", encoding="utf-8")
    return {p.name for p in folder.iterdir()}


def env_for(embedder_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a CLI run on the tiny embedder."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POLYDESK_")}
    return {**clean, "POLYDESK_EMBEDDING_MODEL": str(embedder_dir), "POLYDESK_DEVICE": "cpu", **extra}


def ingest_at_once(folders: list[Path], env: dict[str, str]) -> list[subprocess.CompletedProcess]:
    """`polydesk ingest FOLDER --collection shared`, one process per folder, all started together."""
    runs = [subprocess.Popen([POLYDESK, "ingest", str(f), "--collection", "shared"], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for f in folders]
    done = []
    for run in runs:
        out, err = run.communicate(timeout=600)
        done.append(subprocess.CompletedProcess(run.args, run.returncode, out, err))
    return done


def stored_files(store: ChromaStore) -> set[str]:
    """The file names of every source in collection `shared`."""
    return {Path(source).name for source in store.sources("shared")}


def test_two_cli_ingests_into_one_embedded_collection_keep_every_file(tmp_path, embedder_dir):
    files = write_docs(tmp_path / "a", "alpha", 16) | write_docs(tmp_path / "b", "beta", 16)
    chroma = tmp_path / "chroma"
    runs = ingest_at_once([tmp_path / "a", tmp_path / "b"], env_for(embedder_dir, POLYDESK_CHROMA_PATH=str(chroma)))
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert "Traceback" not in run.stderr
    client = chromadb.PersistentClient(path=str(chroma), settings=chromadb.Settings(anonymized_telemetry=False))
    assert stored_files(ChromaStore(client, str(chroma))) == files


def test_two_cli_ingests_into_one_server_collection_keep_every_file(tmp_path, embedder_dir):
    files = write_docs(tmp_path / "a", "alpha", 12) | write_docs(tmp_path / "b", "beta", 12)
    port = free_port()
    server = start_chroma(tmp_path / "server-data", port)
    try:
        url = f"http://127.0.0.1:{port}"
        runs = ingest_at_once([tmp_path / "a", tmp_path / "b"], env_for(embedder_dir, POLYDESK_CHROMA_URL=url))
        for run in runs:
            assert run.returncode == 0, run.stderr
        client = chromadb.HttpClient(host="127.0.0.1", port=port)
        assert stored_files(ChromaStore(client, url)) == files
        assert all(c.name.startswith(PREFIX) or c.name == "lease-polydesk-writer" for c in client.list_collections())
        lease = ServerLease(client, url, wait=0)
        with lease.held():  # the runs gave their lease back
            pass
    finally:
        stop(server)


def test_a_second_writer_that_cannot_wait_is_refused_with_a_message(tmp_path, embedder_dir):
    write_docs(tmp_path / "a", "alpha", 2)
    chroma = tmp_path / "chroma"
    chroma.mkdir()
    with FileWriteLock(chroma, wait=0).held():
        run = subprocess.run([POLYDESK, "ingest", str(tmp_path / "a"), "--collection", "shared"], text=True,
                             capture_output=True, timeout=300,
                             env=env_for(embedder_dir, POLYDESK_CHROMA_PATH=str(chroma), POLYDESK_WRITE_WAIT="0"))
    assert run.returncode == 1
    assert "waiting for another writer" in run.stderr
    assert "Another writer is still writing to the store" in run.stderr and "POLYDESK_WRITE_WAIT" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_server_lease_is_exclusive_and_an_expired_one_is_taken_over(tmp_path):
    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"),
                                       settings=chromadb.Settings(anonymized_telemetry=False))
    first, second = ServerLease(client, "here", wait=0), ServerLease(client, "here", wait=0)
    with first.held():
        with pytest.raises(StoreBusy, match="Another writer is still writing to the store at here"):
            with second.held():
                pass
        first.renew()
    with second.held():  # given back
        pass
    dead = ServerLease(client, "here", wait=0, seconds=0)
    with dead.held():  # a writer whose lease ran out (it died, or stalled)
        told: list[str] = []
        with ServerLease(client, "here", wait=5, notify=told.append).held():
            with pytest.raises(StoreBusy, match="expired and was taken by another writer"):
                dead.renew()
        assert not told
