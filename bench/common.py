"""Helpers shared by the benchmarks: cached random checkpoints, synthetic multilingual texts, machine facts."""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.tiny_qwen3 import QWEN3_0_6B, TINY, Shape, load_tokenizer, real_tokenizer_dir  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
RESULTS = Path(__file__).resolve().parent / "results"
# Smaller decoders than Qwen3-0.6B (~440M non-embedding parameters) that still do real matrix work:
# ~6M and ~25M non-embedding parameters, cheap enough to embed hundreds of chunks on 2 cores.
SMALL = Shape(layers=4, hidden=384, heads=6, kv_heads=2, head_dim=64, intermediate=1024)
MEDIUM = Shape(layers=8, hidden=512, heads=8, kv_heads=4, head_dim=64, intermediate=1536)
SHAPES: dict[str, Shape] = {"tiny": TINY, "small": SMALL, "medium": MEDIUM, "0.6b": QWEN3_0_6B}

SENTENCES = [
    "The API returns 401 when the access token has expired; call the refresh endpoint to get a new one.",
    "Webhooks are retried with exponential backoff for up to 24 hours before the delivery is marked as failed.",
    "Die API gibt 401 zurück, wenn das Token abgelaufen ist. Fordern Sie über den Refresh-Endpunkt ein neues an.",
    "Les exportations CSV sont limitées à 100 000 lignes ; utilisez la pagination pour les volumes plus importants.",
    "Para restablecer la contraseña, abra Configuración > Seguridad y siga el enlace enviado a su correo.",
    "トークンの有効期限が切れると、APIは401を返します。リフレッシュエンドポイントで新しいトークンを取得してください。",
    "令牌过期时，API 返回 401。请调用刷新接口获取新的令牌，并在请求头中携带。",
    "토큰이 만료되면 API는 401을 반환합니다. 새 토큰은 갱신 엔드포인트에서 받을 수 있습니다.",
    "Если срок действия токена истёк, API возвращает 401; запросите новый токен через эндпоинт обновления.",
    "عندما تنتهي صلاحية الرمز، تعيد الواجهة الرمز 401. استخدم نقطة التحديث للحصول على رمز جديد.",
    "Rate limits: 600 requests per minute per workspace; the X-RateLimit-Remaining header shows what is left.",
    "curl -H 'Authorization: Bearer $TOKEN' https://api.example.com/v2/tickets?status=open&page=2",
    "SSO via SAML 2.0 is available on the Business plan; upload the IdP metadata XML under Admin > Identity.",
    "Attachments larger than 25 MB are rejected with 413 Payload Too Large; compress them or use a share link.",
]
QUERIES = [
    "Why does the API answer 401 after an hour, and how do I get a new token?",
    "¿Cómo configuro el inicio de sesión único con SAML?",
]


def tokenizer_source() -> tuple[Path | None, str]:
    """The real Qwen3 tokenizer folder and a label, or (None, "stand-in") when it is absent."""
    source = real_tokenizer_dir()
    if source is None:
        print("NOTE: the real Qwen3 tokenizer was not found; using a small stand-in tokenizer trained here.")
        return None, "stand-in"
    return source, "real"


def cached_checkpoint(kind: str, shape_name: str, build: Callable[..., Path]) -> tuple[Path, str]:
    """Build a random checkpoint once into bench/.cache and reuse it; returns (folder, tokenizer label)."""
    source, label = tokenizer_source()
    folder = CACHE / f"{kind}-{shape_name}-{label}-tokenizer"
    marker = folder / ".complete"
    if not marker.is_file():
        print(f"building {kind} checkpoint ({shape_name}) into {folder} ...", flush=True)
        start = time.perf_counter()
        folder.mkdir(parents=True, exist_ok=True)
        build(folder, load_tokenizer(source), SHAPES[shape_name])
        marker.write_text("ok\n")
        print(f"  built in {time.perf_counter() - start:.0f} s", flush=True)
    return folder, label


def spread_lengths(n: int, low: int, high: int, seed: int) -> list[int]:
    """`n` token lengths spread evenly over [low, high] (both ends included), jittered, shuffled deterministically."""
    rng = random.Random(seed)
    step = (high - low) / max(n - 1, 1)
    lengths = [min(high, max(low, round(low + i * step + rng.uniform(-step / 3, step / 3)))) for i in range(n)]
    lengths[0], lengths[-1] = low, high
    rng.shuffle(lengths)
    return lengths


def texts_of_lengths(tokenizer: Any, lengths: list[int], seed: int) -> list[str]:
    """One text per target length (in tokens, no special tokens), cut from shuffled multilingual sentences."""
    rng = random.Random(seed)
    texts = []
    for target in lengths:
        pieces: list[str] = []
        while len(tokenizer(" ".join(pieces), add_special_tokens=False)["input_ids"]) < target + 8:
            pieces.append(rng.choice(SENTENCES))
        text = " ".join(pieces)
        offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        texts.append(text[: offsets[target - 1][1]])
    return texts


def token_lengths(tokenizer: Any, texts: list[str]) -> list[int]:
    """Token counts of `texts` without special tokens."""
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def length_stats(lengths: list[int]) -> dict[str, float]:
    """Min, mean, median, max and total of a list of token counts."""
    return {
        "min": min(lengths), "mean": round(statistics.mean(lengths), 1), "median": statistics.median(lengths),
        "max": max(lengths), "total": sum(lengths),
    }


def machine_info() -> dict[str, Any]:
    """CPU count, thread setting and library versions, for the JSON record."""
    import sentence_transformers
    import torch
    import transformers

    return {
        "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
        "torch": torch.__version__, "transformers": transformers.__version__,
        "sentence_transformers": sentence_transformers.__version__, "load_average_at_start": os.getloadavg(),
    }


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """Fastest wall-clock seconds of `repeats` calls of `fn`, the process CPU seconds of that call, and its result."""
    best, cpu, result = float("inf"), float("inf"), None
    for _ in range(repeats):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        result = fn()
        wall = time.perf_counter() - wall_start
        if wall < best:
            best, cpu = wall, time.process_time() - cpu_start
    return best, cpu, result


def write_json(path: Path, record: dict[str, Any]) -> None:
    """Write the result record as indented JSON, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {path}")
