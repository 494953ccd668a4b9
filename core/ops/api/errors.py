"""Every API error as JSON {"error": {"code", "message"}}: Polydesk errors, bad requests and crashes alike."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.admin.auth import NotAuthorized
from core.errors import BackendUnavailable, BadFile, BadInput, ConfigError, PolydeskError, UnknownCollection

log = logging.getLogger("polydesk.api")

STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                409: "conflict", 413: "too_large", 422: "invalid_request", 429: "rate_limited", 500: "internal_error",
                501: "not_implemented", 503: "unavailable"}


class ApiError(Exception):
    """An error answer: HTTP status, a short code, a message for a person and optional headers."""

    def __init__(self, status: int, message: str, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.code = code or STATUS_CODES.get(status, "error")
        self.headers = headers or {}


def error_response(status: int, message: str, code: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON error body every failing route answers with."""
    body = {"error": {"code": code or STATUS_CODES.get(status, "error"), "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def polydesk_status(exc: PolydeskError) -> int:
    """The HTTP status of a Polydesk error."""
    if isinstance(exc, UnknownCollection):
        return 404
    if isinstance(exc, NotAuthorized):
        return 403
    if isinstance(exc, BadFile | BadInput):
        return 422
    if isinstance(exc, BackendUnavailable | ConfigError):
        return 503
    return 409


def _field(location: tuple) -> str:
    """A validation error's field path, without the leading "body"."""
    parts = [str(part) for part in location if part not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    """Answer every failure with the JSON error body; a crash is logged and never shows a stack frame."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.code, exc.headers)

    @app.exception_handler(PolydeskError)
    async def _polydesk_error(request: Request, exc: PolydeskError) -> JSONResponse:
        return error_response(polydesk_status(exc), str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{_field(tuple(e.get('loc', ())))}: {e.get('msg', 'invalid')}" for e in exc.errors()]
        return error_response(422, "Invalid request: " + "; ".join(problems) + ".")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else STATUS_CODES.get(exc.status_code, "error")
        if exc.status_code == 404:
            message = f"No such route: {request.method} {request.url.path}. See /api/docs."
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("API request %s %s failed", request.method, request.url.path)
        return error_response(500, "Polydesk failed on this request; the server log has the details.")
