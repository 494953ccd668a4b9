"""An OpenAPI document as a ParsedDocument: its version checked, its references checked, one block per operation."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from core.errors import BadFile
from core.knowledge.ingest.openapi.operations import operation_blocks
from core.knowledge.ingest.openapi.refs import Refs
from core.knowledge.ingest.openapi.schema import as_text
from core.types import ParsedDocument


def parse_openapi(spec: dict[str, Any], source_name: str) -> ParsedDocument:
    """One `api-operation` block per operation, local `$ref`s resolved, cycle-safe and bounded in size."""
    major = _major_version(spec, source_name)
    paths = spec.get("paths")
    if not isinstance(paths, Mapping):
        raise BadFile(
            f"{source_name} is an OpenAPI document without a `paths` section, so it describes no operations: "
            "add the `paths` of the API (or upload the complete specification) and try again."
        )
    refs = Refs(spec, source_name)
    refs.check_all()
    info = spec.get("info") if isinstance(spec.get("info"), Mapping) else {}
    api_title = as_text(info.get("title")) or PurePath(source_name).stem
    blocks = tuple(operation_blocks(spec, paths, refs, api_title, major))
    if not blocks:
        raise BadFile(
            f"{source_name} is an OpenAPI document whose `paths` define no operations (get, post, ...): "
            "there is nothing to ingest; upload the specification that lists the API's operations."
        )
    title = f"{api_title} {as_text(info.get('version'))}".strip()
    return ParsedDocument(title=title, description=as_text(info.get("description")), blocks=blocks)


def _major_version(spec: Mapping[str, Any], source_name: str) -> int:
    """3 for OpenAPI 3.x, 2 for Swagger 2.0; any other version is refused with the way out."""
    if "openapi" in spec:
        version = as_text(spec["openapi"])
        if version.split(".")[0] == "3":
            return 3
        raise BadFile(
            f"{source_name} declares `openapi: {version}`, a version Polydesk cannot read: "
            "it reads OpenAPI 3.x and Swagger 2.0; convert the document to OpenAPI 3 and upload it again."
        )
    version = as_text(spec.get("swagger"))
    if version in ("2", "2.0"):
        return 2
    raise BadFile(
        f"{source_name} declares `swagger: {version}`, a version Polydesk cannot read: it reads Swagger 2.0 and "
        "OpenAPI 3.x; convert the document (for example in the Swagger Editor) and upload it again."
    )
