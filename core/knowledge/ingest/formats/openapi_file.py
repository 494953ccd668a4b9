"""JSON and YAML files, accepted when they hold an OpenAPI 3.x or Swagger 2.0 specification."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from core.errors import BadFile
from core.knowledge.ingest.openapi import load_yaml, parse_openapi
from core.types import ParsedDocument


def parse_openapi_file(text: str, path: Path) -> ParsedDocument:
    """JSON or YAML holding an OpenAPI 3.x / Swagger 2.0 document; anything else is refused."""
    name = path.name
    if path.suffix.lower() == ".json":
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadFile(
                f"{name} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}. "
                "Fix the syntax there (a JSON validator shows the exact spot) and upload it again."
            ) from exc
    else:
        try:
            spec = load_yaml(text, name)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            raise BadFile(
                f"{name} is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}. "
                "Fix the syntax there (indentation and colons are the usual culprits) and upload it again."
            ) from exc
    if not isinstance(spec, dict) or not ({"openapi", "swagger"} & spec.keys()):
        raise BadFile(
            f"{name} is not an OpenAPI document (it has no top-level `openapi` or `swagger` key): "
            f"Polydesk ingests {path.suffix} files only when they are OpenAPI 3.x or Swagger 2.0 specifications. "
            "Upload the API's OpenAPI specification, or the documentation as Markdown, HTML, PDF or DOCX."
        )
    return parse_openapi(spec, name)
