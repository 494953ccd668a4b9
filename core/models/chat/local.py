"""A chat model in this process (transformers), streamed token by token; one generation at a time."""

from __future__ import annotations

import copy
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import BackendUnavailable, ConfigError, MissingDependency, ModelNotAvailable
from core.models.chat.thinking import THINK_OPEN, ThinkFilter
from core.models.device import MODEL_LOADING, preferred_dtype, resolve_device
from core.models.source import resolve_model
from core.settings import Settings


class LocalChatGenerator:
    """Greedy (or sampled, temperature > 0) generation with the checkpoint's chat template; thread-safe."""

    def __init__(self, folder: Path, model_id: str, *, device: str = "cpu", thinking: str = "auto",
                 max_new_tokens: int = 512, temperature: float = 0.0, first_token_timeout: float = 30.0,
                 total_timeout: float = 120.0, cpu_profile: bool = True) -> None:
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise MissingDependency(
                "The in-process LLM needs torch and transformers: run `make install`, or set POLYDESK_LLM_URL "
                "to an OpenAI-compatible server, or POLYDESK_LLM=off for extractive answers."
            ) from exc
        self.model_id = model_id
        self.device = device
        self.thinking = thinking
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.first_token_timeout = first_token_timeout
        self.total_timeout = total_timeout
        self._lock = threading.Lock()
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        if not self.tokenizer.chat_template:
            raise ConfigError(
                f"{model_id} has no chat template, so it is not a chat model: set POLYDESK_LLM_MODEL to a chat "
                f"model such as Qwen/Qwen3-0.6B."
            )
        self.model = AutoModelForCausalLM.from_pretrained(
            str(folder), dtype=preferred_dtype(device, cpu_profile), local_files_only=True
        ).to(device).eval()
        self.generation_config = self._generation_config()

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalChatGenerator:
        """Load POLYDESK_LLM_MODEL, or fail with the fixes."""
        try:
            folder = resolve_model(settings.llm_model, setting="POLYDESK_LLM_MODEL", url_setting="POLYDESK_LLM_URL")
        except ModelNotAvailable as exc:
            raise ModelNotAvailable(f"{exc} Or set POLYDESK_LLM=off for extractive answers without a model.") from exc
        with MODEL_LOADING:
            return cls(
                folder, settings.llm_model, device=resolve_device(settings.device), thinking=settings.llm_thinking,
                max_new_tokens=settings.llm_max_tokens, temperature=settings.llm_temperature,
                first_token_timeout=settings.http_timeout, total_timeout=settings.llm_total_timeout,
                cpu_profile=settings.cpu_profile,
            )

    def _generation_config(self) -> Any:
        """The checkpoint's generation config with our length, sampling and time limit."""
        config = copy.deepcopy(self.model.generation_config)
        config.max_new_tokens = self.max_new_tokens
        config.max_time = self.total_timeout
        if self.temperature > 0:
            config.do_sample, config.temperature = True, self.temperature
        else:
            # neutral values, not None: None means "take the checkpoint's" (Qwen3 ships temperature 0.6 etc.)
            config.do_sample, config.temperature, config.top_p, config.top_k = False, 1.0, 1.0, 50
        if config.pad_token_id is None:
            config.pad_token_id = self.tokenizer.pad_token_id or self.tokenizer.eos_token_id
        return config

    def prompt_text(self, messages: list[dict[str, str]]) -> str:
        """The messages rendered with the chat template, thinking off unless POLYDESK_LLM_THINKING=on."""
        switch = {} if self.thinking == "on" else {"enable_thinking": False}
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **switch)

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """Text pieces as tokens are generated; stops generating when the caller stops reading."""
        from transformers import TextIteratorStreamer

        prompt = self.prompt_text(messages)
        inputs = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(self.device)
        with self._lock:
            streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True,
                                            timeout=self.first_token_timeout)
            stop = threading.Event()
            failures: list[BaseException] = []
            worker = threading.Thread(target=self._generate, args=(inputs, streamer, stop, failures), daemon=True)
            worker.start()
            think = ThinkFilter(thinking=prompt.rstrip().endswith(THINK_OPEN))  # the template opened <think>
            try:
                for piece in streamer:
                    text = think.feed(piece)
                    if text:
                        yield text
                rest = think.flush()
                if rest:
                    yield rest
            except queue.Empty as exc:
                raise BackendUnavailable(
                    f"The in-process LLM {self.model_id} produced no token for {self.first_token_timeout:g} s: "
                    f"use a smaller model or a GPU, raise POLYDESK_HTTP_TIMEOUT, or set POLYDESK_LLM_URL."
                ) from exc
            finally:
                stop.set()
                worker.join()
            if failures:
                raise BackendUnavailable(
                    f"The in-process LLM {self.model_id} failed: {type(failures[0]).__name__}: {failures[0]}"
                ) from failures[0]

    def _generate(self, inputs: Any, streamer: Any, stop: threading.Event, failures: list[BaseException]) -> None:
        """Run generate() in a worker thread, ending the stream on failure too."""
        import torch
        from transformers import StoppingCriteriaList

        try:
            with torch.inference_mode():
                self.model.generate(**inputs, generation_config=self.generation_config, streamer=streamer,
                                    stopping_criteria=StoppingCriteriaList([_stop_when(stop)]))
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
            failures.append(exc)
            streamer.end()


def _stop_when(event: threading.Event) -> Any:
    """A stopping criterion that ends generation once `event` is set."""
    import torch
    from transformers import StoppingCriteria

    class StopOnEvent(StoppingCriteria):
        def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
            return torch.full((input_ids.shape[0],), event.is_set(), dtype=torch.bool, device=input_ids.device)

    return StopOnEvent()
