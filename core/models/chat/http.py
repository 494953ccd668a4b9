"""Streamed chat completions from an OpenAI-compatible server: vLLM, Ollama, OpenAI and the like."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from core.errors import BackendUnavailable, MissingDependency
from core.models.chat.thinking import ThinkFilter, thinking_switch
from core.models.http_client import RetryPolicy, openai_verdict, retry_after_s
from core.settings import Settings, redact_credentials

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 10.0


class OpenAIChatGenerator:
    """Streams an answer; bounded waits (first token / silence, whole answer); Qwen3 thinking switched off.

    `chat_template_kwargs: {"enable_thinking": false}` goes in the request body for Qwen3 hybrid models (or
    always with thinking="off"). In "auto", a server that rejects it with HTTP 400 is asked once more without
    it, and when that works it is never sent to this server again.
    """

    def __init__(self, url: str, model_id: str, *, api_key: str | None = None, thinking: str = "auto",
                 max_tokens: int = 512, temperature: float = 0.0, first_token_timeout: float = 30.0,
                 total_timeout: float = 120.0, retries: int = 2) -> None:
        try:
            import openai
        except ImportError as exc:
            raise MissingDependency("The LLM client needs the openai package: run `make install`.") from exc
        self._openai = openai
        self.url = url.rstrip("/").removesuffix("/v1")
        self.where = redact_credentials(self.url)  # the URL as messages show it
        self.model_id = model_id
        self.thinking = thinking
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.first_token_timeout = first_token_timeout
        self.total_timeout = total_timeout
        self.retry = RetryPolicy(retries)
        self._switch = thinking_switch(thinking, model_id)
        self._lock = threading.Lock()
        self._client = openai.OpenAI(
            base_url=f"{self.url}/v1", api_key=api_key or "EMPTY", max_retries=0,
            timeout=openai.Timeout(total_timeout, connect=min(CONNECT_TIMEOUT_S, first_token_timeout),
                                   read=first_token_timeout),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIChatGenerator:
        """A client for POLYDESK_LLM_URL and POLYDESK_LLM_MODEL."""
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return cls(
            settings.llm_url or "", settings.llm_model, api_key=key, thinking=settings.llm_thinking,
            max_tokens=settings.llm_max_tokens, temperature=settings.llm_temperature,
            first_token_timeout=settings.http_timeout, total_timeout=settings.llm_total_timeout,
            retries=settings.http_retries,
        )

    @property
    def sends_thinking_switch(self) -> bool:
        """Whether requests carry chat_template_kwargs (False once the server has rejected them)."""
        with self._lock:
            return self._switch is not None

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """Text pieces of the answer as they arrive; BackendUnavailable on any failure, also mid-stream."""
        deadline = time.monotonic() + self.total_timeout
        response = self._open(messages, deadline)
        chunks = iter(response)
        think = ThinkFilter()
        shown = False
        finish: str | None = None
        try:
            while True:
                try:
                    chunk = next(chunks, None)
                    if chunk is None:
                        break
                    piece, finish = _delta(chunk, finish)
                except self._openai.APIError as exc:
                    raise self._unavailable(exc, " while streaming the answer") from exc
                except (ValueError, TypeError, AttributeError, KeyError) as exc:
                    raise BackendUnavailable(
                        f"The LLM server at {self.where} sent a stream that is not in the OpenAI chat format "
                        f"({type(exc).__name__}: {str(exc)[:200]}): check that POLYDESK_LLM_URL points to an "
                        f"OpenAI-compatible /v1 API."
                    ) from exc
                if time.monotonic() > deadline:
                    raise BackendUnavailable(
                        f"The LLM server at {self.where} did not finish the answer within {self.total_timeout:g} s: "
                        f"raise POLYDESK_LLM_TOTAL_TIMEOUT, lower POLYDESK_LLM_MAX_TOKENS, or add capacity."
                    )
                text = think.feed(piece) if piece else ""
                if text:
                    shown = True
                    yield text
            rest = think.flush()
            if rest:
                shown = True
                yield rest
        finally:
            response.close()
        if not shown:
            raise BackendUnavailable(
                f"The LLM server at {self.where} returned no answer text (finish reason: {finish or 'none'}): "
                f"a thinking model may have spent POLYDESK_LLM_MAX_TOKENS on reasoning; raise it or set "
                f"POLYDESK_LLM_THINKING=off."
            )

    def _open(self, messages: list[dict[str, str]], deadline: float) -> Any:
        """The streaming response, once the server has accepted the request; retries only what is safe."""
        with self._lock:
            switch = self._switch
        extra = {"chat_template_kwargs": switch} if switch else None
        try:
            return self.retry.call(lambda: self._client.chat.completions.create(
                model=self.model_id, messages=messages, stream=True, max_tokens=self.max_tokens,
                temperature=self.temperature, extra_body=extra,
            ), openai_verdict(self._openai), deadline)
        except self._openai.BadRequestError as exc:
            if extra is None or self.thinking != "auto":
                raise self._unavailable(exc, "", thinking_sent=extra is not None) from exc
            log.warning("%s rejected chat_template_kwargs (%s); asking again without it", self.where, exc)
            return self._retry_without_switch(messages)
        except self._openai.APIError as exc:
            raise self._unavailable(exc, "") from exc

    def _retry_without_switch(self, messages: list[dict[str, str]]) -> Any:
        """The request again without chat_template_kwargs; remember that this server does not take them."""
        try:
            response = self._client.chat.completions.create(
                model=self.model_id, messages=messages, stream=True, max_tokens=self.max_tokens,
                temperature=self.temperature,
            )
        except self._openai.APIError as exc:
            raise self._unavailable(exc, "") from exc
        with self._lock:
            self._switch = None
        return response

    def _unavailable(self, exc: Exception, when: str, *, thinking_sent: bool = False) -> BackendUnavailable:
        """BackendUnavailable saying what the server did (`when`: e.g. " while streaming") and what to change."""
        where = f"The LLM server at {self.where}"
        if isinstance(exc, self._openai.APITimeoutError):
            return BackendUnavailable(
                f"{where} sent no data for {self.first_token_timeout:g} s{when} (timeout): it may be overloaded or "
                f"still loading the model; raise POLYDESK_HTTP_TIMEOUT or add capacity."
            )
        if isinstance(exc, self._openai.APIConnectionError):
            return BackendUnavailable(
                f"{where} cannot be reached or the connection broke{when} ({_cause(exc)}): check that the server "
                f"is running and that POLYDESK_LLM_URL is right."
            )
        if isinstance(exc, self._openai.APIStatusError):
            code = exc.status_code
            fix = {
                401: "check POLYDESK_LLM_API_KEY.",
                403: "check POLYDESK_LLM_API_KEY and its permissions.",
                404: f"set POLYDESK_LLM_MODEL to a model the server serves ({self.where}/v1/models lists them) and "
                     f"check POLYDESK_LLM_URL.",
                429: "the server is rate limiting; try again later or raise the quota.",
            }.get(code, "see the server's log." if code >= 500 else "check the request settings.")
            if thinking_sent and code == 400:
                fix = "it may not accept chat_template_kwargs: set POLYDESK_LLM_THINKING=auto or on."
            wait = retry_after_s(exc.response.headers)
            hint = f" and asks to retry after {wait:g} s" if wait is not None else ""
            return BackendUnavailable(f"{where} answered HTTP {code}{hint} ({_message(exc)}); {fix}")
        return BackendUnavailable(f"{where} reported an error{when}: {_message(exc)}")


def _delta(chunk: Any, finish: str | None) -> tuple[str, str | None]:
    """(content text of one streamed chunk, finish reason so far); reasoning_content is left out on purpose."""
    choices = chunk.choices
    if choices is None:
        raise ValueError(f"a chunk without choices: {str(chunk)[:200]}")
    if not choices:
        return "", finish
    choice = choices[0]
    content = choice.delta.content if choice.delta is not None else None
    if content is not None and not isinstance(content, str):
        raise TypeError(f"delta.content is {type(content).__name__}, not text")
    return content or "", choice.finish_reason or finish


def _message(exc: Exception) -> str:
    """The server's error message, shortened."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        text = inner.get("message") if isinstance(inner, dict) else None
        if text:
            return str(text)[:300]
    return str(exc)[:300]


def _cause(exc: BaseException) -> str:
    """The name of the underlying network error, e.g. ConnectError."""
    cause = exc.__cause__ or exc.__context__
    return type(cause).__name__ if cause is not None else type(exc).__name__
