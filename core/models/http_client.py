"""JSON over HTTP with a timeout, retries only where safe, and errors a person can act on."""

from __future__ import annotations

import time
from typing import Any

import httpx

from core.errors import BackendUnavailable
from core.settings import redact_credentials

RETRY_PAUSE_S = 0.5


class JsonClient:
    """POSTs JSON to one server, retrying refused connections and 5xx answers, never 4xx or read timeouts."""

    def __init__(self, base_url: str, *, name: str, timeout: float, retries: int, api_key: str | None = None):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url
        self.where = redact_credentials(base_url)  # shown in messages
        self.name = name
        self.retries = retries
        self._client = httpx.Client(base_url=base_url, timeout=timeout, headers=headers)

    def post(self, path: str, payload: dict[str, Any]) -> Any:
        """The decoded JSON answer of POST path, or BackendUnavailable saying what went wrong."""
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self._client.post(path, json=payload)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
                if last:
                    raise BackendUnavailable(
                        f"{self.name} at {self.where} cannot be reached ({type(exc).__name__}): "
                        f"check that the server is running and the URL is right."
                    ) from exc
            except httpx.TimeoutException as exc:
                raise BackendUnavailable(
                    f"{self.name} at {self.where} did not answer within {self._client.timeout.read:g} s: "
                    f"the server may be overloaded; raise POLYDESK_HTTP_TIMEOUT or add capacity."
                ) from exc
            else:
                if response.status_code < 500 or last:
                    return self._decode(response, path)
            time.sleep(RETRY_PAUSE_S * 2**attempt)
        raise AssertionError("unreachable")

    def _decode(self, response: httpx.Response, path: str) -> Any:
        """The JSON body of a 2xx answer, else BackendUnavailable quoting the server."""
        if response.status_code >= 400:
            raise BackendUnavailable(
                f"{self.name} at {self.where} answered {path} with HTTP {response.status_code}: "
                f"{response.text[:300]}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise BackendUnavailable(
                f"{self.name} at {self.where} answered {path} with something that is not JSON: "
                f"{response.text[:200]!r}"
            ) from exc

    def close(self) -> None:
        """Release pooled connections."""
        self._client.close()
