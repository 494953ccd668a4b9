"""Find a model's files: a local folder, the Hugging Face cache, or a download, else a clear error."""

from __future__ import annotations

import json
from pathlib import Path

from core.errors import ModelNotAvailable


def resolve_model(model: str, *, setting: str, url_setting: str) -> Path:
    """The folder holding `model` (a hub id or a local path); raise ModelNotAvailable with the fixes."""
    folder = Path(model).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise ModelNotAvailable(
                f"{model} is a folder but holds no config.json, so it is not a model checkpoint. "
                f"Point {setting} at the folder that contains config.json."
            )
        return folder
    if model.startswith((".", "/", "~")) or model.count("/") != 1:
        raise ModelNotAvailable(
            f"{model} is neither an existing folder nor a Hugging Face model id (owner/name). "
            f"Fix {setting}, or set {url_setting} to a vLLM server."
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(model, local_files_only=True))
    except LocalEntryNotFoundError:
        pass
    try:
        return Path(snapshot_download(model))
    except (OSError, HfHubHTTPError, ValueError) as exc:
        raise ModelNotAvailable(
            f"{model} is not in the local Hugging Face cache and could not be downloaded "
            f"({_first_line(exc)}). Fix one of: run `hf download {model}` on a machine that reaches "
            f"the Hugging Face Hub (and copy the cache here); or download the folder and set {setting} "
            f"to its path; or set {url_setting} to a vLLM server that serves it."
        ) from exc


def cached_model_folder(model: str) -> Path | None:
    """The local folder or cached snapshot of `model`, without any network access; None if absent."""
    folder = Path(model).expanduser()
    if (folder / "config.json").is_file():
        return folder
    if model.count("/") != 1 or model.startswith((".", "/", "~")):
        return None
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(model, local_files_only=True))
    except (LocalEntryNotFoundError, ValueError):
        return None


def hidden_size(folder: Path) -> int:
    """The hidden size in a checkpoint's config.json, read without loading weights."""
    return int(json.loads((folder / "config.json").read_text())["hidden_size"])


def _first_line(exc: BaseException) -> str:
    """The first line of an exception message, for a compact explanation."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
