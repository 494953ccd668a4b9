"""The in-process chat generator on a tiny random Qwen3 chat checkpoint: streaming mechanics, never content."""

from __future__ import annotations

import copy
import threading
import time
from pathlib import Path

import pytest

from core.answers.prompt import build_messages
from core.errors import BackendUnavailable, ModelNotAvailable
from core.models.chat import make_generator
from core.models.chat.local import LocalChatGenerator
from core.settings import load_settings

MAX_NEW_TOKENS = 16


@pytest.fixture(scope="module")
def local_chat(chat_model_dir: Path) -> LocalChatGenerator:
    """The tiny checkpoint loaded once for this module, greedy, a few tokens per answer."""
    return LocalChatGenerator(chat_model_dir, "tiny-qwen3-chat", max_new_tokens=MAX_NEW_TOKENS,
                              cpu_profile=False)  # the reference generates in float32


@pytest.fixture
def messages(make_candidate) -> list[dict[str, str]]:
    return build_messages("How long is a token valid?", [make_candidate("Tokens expire after one hour.")], "en")


def reference_text(folder: Path, messages: list[dict[str, str]]) -> str:
    """Greedy generation written directly against transformers: the full decoded text of the new tokens."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, enable_thinking=False)
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(**ids, do_sample=False, max_new_tokens=MAX_NEW_TOKENS)
    return tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)


def test_the_chat_template_takes_the_thinking_switch(local_chat, messages):
    assert local_chat.prompt_text(messages).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    thinking = copy.copy(local_chat)
    thinking.thinking = "on"
    assert thinking.prompt_text(messages).endswith("<|im_start|>assistant\n")
    assert "Tokens expire after one hour." in thinking.prompt_text(messages)


def test_streams_token_by_token_into_the_full_decoded_text(local_chat, chat_model_dir, messages, tokenizer_kind):
    pieces = list(local_chat.stream(messages))
    # The streamer holds back half characters; the small trained stand-in tokenizer makes many of those.
    assert len(pieces) >= (3 if tokenizer_kind == "qwen3-tokenizer" else 2) and all(pieces)
    assert "".join(pieces) == reference_text(chat_model_dir, messages)
    assert list(local_chat.stream(messages)) == pieces  # greedy: the same answer again


def test_one_generation_at_a_time_and_closing_a_stream_stops_it(local_chat, messages):
    endless = copy.copy(local_chat)  # the same model and lock, but an answer that would take minutes
    endless.generation_config = copy.deepcopy(local_chat.generation_config)
    endless.generation_config.max_new_tokens = endless.generation_config.min_new_tokens = 50_000  # no EOS either
    endless.generation_config.max_time = 30.0
    first = endless.stream(messages)
    next(first)  # the first stream now holds the model
    second: list[str] = []
    worker = threading.Thread(target=lambda: second.extend(local_chat.stream(messages)))
    worker.start()
    worker.join(timeout=1.0)
    assert worker.is_alive() and not second  # waits for the first stream
    started = time.monotonic()
    first.close()  # a reader that stops early stops the generation and releases the model
    assert time.monotonic() - started < 10
    worker.join(timeout=30)
    assert not worker.is_alive() and second


def test_no_first_token_in_time_is_backend_unavailable(local_chat, messages):
    slow = copy.copy(local_chat)
    slow.first_token_timeout = 1e-6
    with pytest.raises(BackendUnavailable, match="produced no token for 1e-06 s"):
        list(slow.stream(messages))


def test_a_failing_generation_is_backend_unavailable(local_chat, messages, monkeypatch):
    def broken(**_kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(local_chat.model, "generate", broken)
    with pytest.raises(BackendUnavailable, match="tiny-qwen3-chat failed: RuntimeError: out of memory"):
        list(local_chat.stream(messages))


def test_make_generator_loads_the_configured_checkpoint(chat_model_dir):
    settings = load_settings(llm_model=str(chat_model_dir), device="cpu", llm_max_tokens=5, llm_temperature=0.0)
    chat = make_generator(settings)
    assert isinstance(chat, LocalChatGenerator) and chat.model_id == str(chat_model_dir)
    assert chat.generation_config.max_new_tokens == 5 and chat.generation_config.do_sample is False


def test_a_missing_model_says_how_to_do_without():
    with pytest.raises(ModelNotAvailable, match="POLYDESK_LLM_MODEL.*POLYDESK_LLM=off"):
        make_generator(load_settings(llm_model="/no/such/model/folder", device="cpu"))
