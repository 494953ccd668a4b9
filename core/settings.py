"""One Settings object, read from POLYDESK_* environment variables and .streamlit/secrets.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from core.errors import ConfigError

ENV_PREFIX = "POLYDESK_"
SECRETS_FILE = Path(".streamlit/secrets.toml")
SECRETS_TABLE = "polydesk"
WEB_SEARCH_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"


class Settings(BaseSettings):
    """Everything an operator can configure; field `x` is the variable POLYDESK_X."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    embedding_model: str = "Qwen/Qwen3-Embedding-0.6B"
    embedding_url: str | None = None
    embedding_api_key: SecretStr | None = None
    embedding_dim: int | None = Field(default=None, ge=32, le=8192)
    embedding_instruction: str = WEB_SEARCH_INSTRUCTION
    embedding_batch_size: int = Field(default=16, ge=1)

    reranker_model: str = "Qwen/Qwen3-Reranker-0.6B"
    reranker_url: str | None = None
    reranker_api_key: SecretStr | None = None
    reranker_instruction: str = WEB_SEARCH_INSTRUCTION
    reranker_max_length: int = Field(default=8192, ge=128)
    reranker_batch_size: int = Field(default=4, ge=1)

    llm: Literal["auto", "off"] = "auto"  # off: extractive answers, no language model
    llm_url: str | None = None
    llm_model: str = "Qwen/Qwen3-0.6B"  # the served model's name with llm_url, else the in-process checkpoint
    llm_api_key: SecretStr | None = None
    llm_thinking: Literal["auto", "on", "off"] = "auto"  # auto: switch thinking off for Qwen3 hybrid models
    llm_max_tokens: int = Field(default=512, ge=1, le=32768)
    llm_temperature: float = Field(default=0.0, ge=0.0, le=2.0)  # 0: greedy
    llm_total_timeout: float = Field(default=120.0, gt=0)  # whole answer; http_timeout bounds the first token

    chroma_path: Path = Path("data/chroma")
    chroma_url: str | None = None
    lexical_path: Path | None = None  # saved BM25 indexes; unset: a "lexical" folder beside chroma_path
    write_wait: float = Field(default=120.0, ge=0)  # seconds a second writer waits for the store before it gives up
    write_batch_rows: int = Field(default=2000, ge=1)  # chunks of several files gathered into one commit at ingest

    tokenizer: str | None = None
    chunk_tokens: int = Field(default=512, ge=16, le=2048)
    chunk_overlap: int = Field(default=32, ge=0, le=256)
    max_file_mb: float = Field(default=20.0, gt=0)
    uploads_path: Path = Path("data/uploads")  # the files admins uploaded, one folder per collection
    upload_max_files: int = Field(default=200, ge=1)
    upload_max_total_mb: float = Field(default=200.0, gt=0)
    upload_max_unpacked_mb: float = Field(default=500.0, gt=0)  # what a batch's archives may unpack to, together
    languages: str = ""

    dense_k: int = Field(default=50, ge=1, le=1000)
    lexical_k: int = Field(default=50, ge=1, le=1000)
    rerank_k: int | None = Field(default=None, ge=1, le=500)  # unset: 10 with the CPU profile, else 30
    rerank_max_passage_tokens: int | None = Field(default=None, ge=16, le=8192)  # unset: 256 with the CPU profile
    top_n: int = Field(default=3, ge=1, le=100)
    max_question_chars: int = Field(default=4000, ge=1)  # longer questions are refused with a message

    database_url: str = "sqlite:///data/polydesk.db"
    api_rate_per_minute: int = Field(default=60, ge=1)  # per API key
    api_cors_origins: str = ""  # comma-separated origins allowed to call the HTTP API from a browser

    admin_user: str = "admin"
    admin_password_hash: SecretStr | None = None
    admin_emails: str = ""  # comma-separated e-mails allowed to administer through single sign-on
    session_minutes: int = Field(default=60, ge=1, le=24 * 60)
    trusted_proxies: str = ""  # comma-separated proxy addresses/networks whose X-Forwarded-For is believed

    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    cpu_profile: bool = True  # POLYDESK_CPU_PROFILE: bfloat16 on CPUs with native support; off keeps float32
    http_timeout: float = Field(default=30.0, gt=0)
    http_retries: int = Field(default=2, ge=0, le=10)

    @property
    def lexical_folder(self) -> Path:
        """Where BM25 indexes are saved per collection revision."""
        return self.lexical_path or self.chroma_path.parent / "lexical"

    @field_validator("embedding_url", "reranker_url", "llm_url", "chroma_url", mode="before")
    @classmethod
    def _check_url(cls, value: Any) -> str | None:
        """Accept http(s)://host[:port][/path]; an empty value means unset."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        text = str(value).strip()
        parsed = urlparse(text)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"must be an http(s) URL such as http://localhost:8000, got {text!r}")
        return text.rstrip("/")

    @field_validator("embedding_model", "reranker_model", "llm_model", "embedding_instruction",
                     "reranker_instruction")
    @classmethod
    def _check_not_blank(cls, value: str) -> str:
        """A model id or instruction cannot be empty."""
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Explicit values win, then the environment, then secrets.toml."""
        return init_settings, env_settings, SecretsTomlSource(settings_cls)


class SecretsTomlSource(PydanticBaseSettingsSource):
    """The [polydesk] table of .streamlit/secrets.toml (keys as field names, e.g. reranker_url)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path = SECRETS_FILE) -> None:
        super().__init__(settings_cls)
        self.values = _read_secrets_table(path)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Look one field up in the table."""
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        """The known fields found in the table."""
        return {k: v for k, v in self.values.items() if k in self.settings_cls.model_fields}


def _read_secrets_table(path: Path) -> dict[str, Any]:
    """The [polydesk] table of a TOML file, or nothing when the file is absent."""
    if not path.is_file():
        return {}
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get(SECRETS_TABLE, {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}. Fix the file or remove it.") from exc
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [{SECRETS_TABLE}] must be a table of settings.")
    return {key.lower().removeprefix(ENV_PREFIX.lower()): value for key, value in table.items()}


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings; a bad value raises ConfigError naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = [
            f"{ENV_PREFIX}{'_'.join(str(part) for part in error['loc']).upper()}: "
            f"{error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        ]
        raise ConfigError("Invalid settings:\n  " + "\n  ".join(problems)) from None



_USERINFO = re.compile(r"(?<=://)[^/\s@]+@")


def redact_credentials(text: str) -> str:
    """The text with the user and password of every URL in it (scheme://user:secret@host) shown as ***."""
    return _USERINFO.sub("***@", text)
