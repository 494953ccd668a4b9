"""The HTTP API: one FastAPI app over one Pipeline, its keys, limits and error format; `serve` runs it."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware

from core.admin.documents import DocumentAdmin
from core.ops.api import answers, collections, openai_compat, search
from core.ops.api.errors import error_response, install_error_handlers
from core.ops.api.keys import KeyStore
from core.ops.api.security import Guard, RateLimiter
from core.pipeline import Pipeline

MAX_JSON_BYTES = 1_000_000
UPLOAD_SLACK_BYTES = 1_000_000  # multipart framing around the files


def create_app(pipeline: Pipeline) -> FastAPI:
    """The API app: routes by area, Bearer keys from POLYDESK_DATABASE_URL, rate limit, CORS when configured."""
    settings = pipeline.settings
    app = FastAPI(title="Polydesk API", docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json",
                  description="Answers with citations, ticket-reply drafts, search and administration.")
    app.state.pipeline = pipeline
    app.state.guard = Guard(KeyStore(settings.database_url), RateLimiter(settings.api_rate_per_minute))
    pipeline.answer_log  # noqa: B018 - opened (and an older database upgraded) before the first request
    app.state.documents = DocumentAdmin(pipeline)
    install_error_handlers(app)
    for module in (collections, answers, search, openai_compat):
        app.include_router(module.router)
    origins = [origin.strip() for origin in settings.api_cors_origins.split(",") if origin.strip()]
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"])
    upload_limit = int(settings.upload_max_total_mb * 1_000_000) + UPLOAD_SLACK_BYTES

    @app.middleware("http")
    async def _body_limit(request: Request, call_next):  # noqa: ANN001, ANN202
        """413 before reading a body announced as too large (JSON 1 MB; uploads as on the Documents page)."""
        upload = request.headers.get("content-type", "").startswith("multipart/")
        limit = upload_limit if upload else MAX_JSON_BYTES
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            what = "An upload" if upload else "A JSON request body"
            return error_response(413, f"{what} can have at most {limit / 1e6:g} MB; this one has "
                                  f"{int(length) / 1e6:.1f} MB.")
        return await call_next(request)

    return app


def serve(pipeline: Pipeline, host: str, port: int) -> None:
    """Run the API under uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_app(pipeline), host=host, port=port, log_level="info")
