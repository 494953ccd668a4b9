"""One HTTP policy for every model server: timeouts, retries only where safe (refused connections, 5xx), jitter,
a bounded Retry-After; and a JSON client that follows it."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx

from core.errors import BackendUnavailable
from core.settings import redact_credentials

T = TypeVar("T")
RETRY_PAUSE_S = 0.5  # first pause; doubled after each retry, with jitter
MAX_RETRY_AFTER_S = 10.0  # a server asking for a longer wait is not retried


@dataclass(frozen=True)
class Retry:
    """A failure worth one more try; `after_s` is the wait the server asked for (Retry-After), if any."""

    after_s: float | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """At most `retries` more tries of what `verdict` calls retryable, pausing with jitter in between."""

    retries: int = 2
    pause_s: float = RETRY_PAUSE_S
    max_retry_after_s: float = MAX_RETRY_AFTER_S
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def call(self, attempt: Callable[[], T], verdict: Callable[[Exception], Retry | None],
             deadline: float | None = None) -> T:
        """`attempt()`'s result; its exception once it is not retryable, the tries are spent, or time is up."""
        for tries in range(self.retries + 1):
            try:
                return attempt()
            except Exception as exc:
                retry = verdict(exc)
                pause = None if retry is None or tries == self.retries else self.pause(tries, retry.after_s)
                if pause is None or (deadline is not None and time.monotonic() + pause > deadline):
                    raise
                self.sleep(pause)
        raise AssertionError("unreachable")

    def pause(self, tries: int, retry_after_s: float | None) -> float | None:
        """Seconds to wait before the next try: the server's Retry-After when within bounds, else backoff."""
        if retry_after_s is not None:
            return retry_after_s if retry_after_s <= self.max_retry_after_s else None
        return self.pause_s * 2**tries * random.uniform(0.5, 1.0)


def retry_after_s(headers: httpx.Headers | dict[str, str] | None) -> float | None:
    """The Retry-After header in seconds (delta-seconds or an HTTP date), or None."""
    value = (headers or {}).get("retry-after") or (headers or {}).get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


def status_verdict(status: int, headers: httpx.Headers | dict[str, str] | None) -> Retry | None:
    """5xx is retried (after Retry-After when given); every 4xx is final."""
    return Retry(retry_after_s(headers)) if status >= 500 else None


def httpx_verdict(exc: Exception) -> Retry | None:
    """Refused or dropped connections and 5xx answers are retried; timeouts and 4xx are not."""
    if isinstance(exc, ServerError):
        return status_verdict(exc.response.status_code, exc.response.headers)
    if isinstance(exc, (httpx.ConnectError, httpx.RemoteProtocolError)):
        return Retry()
    return None


def openai_verdict(openai: Any) -> Callable[[Exception], Retry | None]:
    """The same rule for the OpenAI SDK's errors (the SDK itself runs with max_retries=0)."""

    def verdict(exc: Exception) -> Retry | None:
        if isinstance(exc, openai.APITimeoutError):
            return None
        if isinstance(exc, openai.APIConnectionError):
            return Retry()
        if isinstance(exc, openai.APIStatusError):
            return status_verdict(exc.status_code, exc.response.headers)
        return None

    return verdict


class ServerError(Exception):
    """A 5xx answer, raised inside a try so that the policy can retry it."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class JsonClient:
    """JSON requests to one server under the retry policy, with errors a person can act on."""

    def __init__(self, base_url: str, *, name: str, timeout: float, retries: int, api_key: str | None = None):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url
        self.where = redact_credentials(base_url)  # shown in messages
        self.name = name
        self.retry = RetryPolicy(retries)
        self._client = httpx.Client(base_url=base_url, timeout=timeout, headers=headers)

    def post(self, path: str, payload: dict[str, Any]) -> Any:
        """The decoded JSON answer of POST path, or BackendUnavailable saying what went wrong."""
        return self._decode(self._send("POST", path, payload), path)

    def get(self, path: str) -> Any:
        """The decoded JSON answer of GET path, or BackendUnavailable saying what went wrong."""
        return self._decode(self._send("GET", path, None), path)

    def _send(self, method: str, path: str, payload: dict[str, Any] | None) -> httpx.Response:
        """The last response, once it is not a retryable failure."""

        def attempt() -> httpx.Response:
            response = self._client.request(method, path, json=payload)
            if response.status_code >= 500:
                raise ServerError(response)
            return response

        try:
            return self.retry.call(attempt, httpx_verdict)
        except ServerError as exc:
            return exc.response
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout):
                raise self._unreachable(exc) from exc
            raise BackendUnavailable(
                f"{self.name} at {self.where} did not answer within {self._client.timeout.read:g} s: "
                f"the server may be overloaded; raise POLYDESK_HTTP_TIMEOUT or add capacity."
            ) from exc
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc

    def _unreachable(self, exc: Exception) -> BackendUnavailable:
        """The server could not be reached."""
        return BackendUnavailable(
            f"{self.name} at {self.where} cannot be reached ({type(exc).__name__}): "
            f"check that the server is running and the URL is right."
        )

    def _decode(self, response: httpx.Response, path: str) -> Any:
        """The JSON body of a 2xx answer, else BackendUnavailable quoting the server."""
        if response.status_code >= 400:
            wait = retry_after_s(response.headers)
            hint = f" (it asks to retry after {wait:g} s)" if wait is not None else ""
            raise BackendUnavailable(
                f"{self.name} at {self.where} answered {path} with HTTP {response.status_code}{hint}: "
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
