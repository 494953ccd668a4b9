"""Health, readiness, collections, and the admin routes: uploads as ingest jobs, removals, deletions."""

from __future__ import annotations

import time
from dataclasses import asdict

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import JSONResponse

from core.admin.auth import AdminSession
from core.admin.documents import DocumentAdmin
from core.admin.jobs import IngestJob
from core.ops.api.errors import ApiError
from core.ops.api.keys import ApiKey
from core.ops.api.security import AdminKey, AskKey
from core.ops.doctor import diagnose
from core.pipeline import Pipeline

SESSION_S = 60.0
router = APIRouter(prefix="/api/v1", tags=["collections"])


@router.get("/health")
def health() -> dict:
    """Liveness: no key needed."""
    return {"status": "ok"}


@router.get("/ready")
def ready(request: Request, key: AskKey) -> JSONResponse:
    """The doctor's checks; 503 when one fails."""
    pipeline: Pipeline = request.app.state.pipeline
    diagnosis = diagnose(pipeline.settings, loaded=pipeline.loaded_models(), store=lambda: pipeline.store)
    body = {"status": "ok" if diagnosis.ok else "failing", **diagnosis.to_dict()}
    return JSONResponse(body, status_code=200 if diagnosis.ok else 503)


@router.get("/collections")
def collections(request: Request, key: AskKey) -> dict:
    """Every collection with its documents, chunks and languages."""
    store = request.app.state.pipeline.store
    listed = []
    for info in store.collections():
        counts = store.count_by(info.name, "source", "language")
        languages = {code or "unknown": n for code, n in counts["language"].items()}
        listed.append({"name": info.name, "description": info.description, "documents": len(counts["source"]),
                       "chunks": info.chunks, "languages": languages, "embedding_model": info.embedding_model})
    return {"collections": listed}


def _session(key: ApiKey) -> AdminSession:
    """A short admin session for one request of an admin key."""
    now = time.monotonic()
    return AdminSession(user=f"api-key:{key.name}", method="password", issued_at=now, expires_at=now + SESSION_S)


def _admin(request: Request) -> DocumentAdmin:
    """The app's document administration."""
    return request.app.state.documents


def job_json(job: IngestJob) -> dict:
    """An ingest job's progress and, when it is done, its report."""
    return {"job_id": job.id, "collection": job.collection, "started_by": job.started_by,
            "state": "running" if job.running else ("failed" if job.error else "done"),
            "progress": round(job.fraction, 3), "files": [asdict(f) for f in job.files()], "error": job.error,
            "report": job.report.to_dict() if job.report and not job.running else None}


@router.post("/collections/{name}/documents", status_code=202)
async def upload(name: str, request: Request, files: list[UploadFile],
                 key: AdminKey) -> dict:
    """Upload files or a .zip (multipart field `files`); they are checked, then ingested in the background."""
    admin = _admin(request)
    limits = admin.limits
    if len(files) > limits.max_files:
        raise ApiError(413, f"{len(files)} files in one upload; the limit is {limits.max_files} "
                       "(POLYDESK_UPLOAD_MAX_FILES): upload fewer at a time.")
    loaded: list[tuple[str, bytes]] = []
    total = 0
    for file in files:
        data = await file.read(limits.max_file_bytes + 1)
        total += len(data)
        if len(data) > limits.max_file_bytes:
            raise ApiError(413, f"{file.filename} is larger than the {limits.max_file_bytes / 1e6:g} MB limit per "
                           "file (POLYDESK_MAX_FILE_MB): split it or raise the limit.")
        if total > limits.max_total_bytes:
            raise ApiError(413, f"The upload is larger than the {limits.max_total_bytes / 1e6:g} MB limit per "
                           "upload (POLYDESK_UPLOAD_MAX_TOTAL_MB): upload fewer files at a time.")
        loaded.append((file.filename or "upload", data))
    job = admin.upload(_session(key), name, loaded)
    return {"job_id": job.id, "collection": name}


@router.get("/jobs/{job_id}")
def job(job_id: str, request: Request, key: AdminKey) -> dict:
    """An ingest job's progress, and its report once done."""
    for known in _admin(request).jobs.recent():
        if known.id == job_id:
            return job_json(known)
    raise ApiError(404, f"No ingest job {job_id!r} in this process (finished jobs are kept for a while).")


@router.delete("/collections/{name}/documents/{source:path}")
def remove_document(name: str, source: str, request: Request, key: AdminKey) -> dict:
    """Remove one document's chunks and its kept upload."""
    admin = _admin(request)
    admin.pipeline.store.info(name)
    if source not in admin.pipeline.store.sources(name):
        raise ApiError(404, f"{name} has no document {source!r}: GET /api/v1/collections lists the collections.")
    return {"collection": name, "source": source, "removed_chunks": admin.remove_document(_session(key), name, source)}


@router.delete("/collections/{name}")
def delete_collection(name: str, request: Request, key: AdminKey) -> dict:
    """Delete a collection, its chunks and its kept uploads."""
    admin = _admin(request)
    admin.pipeline.store.info(name)
    admin.delete_collection(_session(key), name)
    return {"collection": name, "deleted": True}
