"""One Markdown block per operation: summary, parameters, request body, responses, security."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from core.knowledge.ingest.openapi.refs import Refs
from core.knowledge.ingest.openapi.schema import (
    INDENT,
    MAX_FIELD_TEXT,
    SchemaWriter,
    as_text,
    description_of,
    one_line,
)
from core.types import Block

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
DEFAULT_TAG = "default"


def operation_blocks(
    spec: Mapping[str, Any], paths: Mapping[str, Any], refs: Refs, api_title: str, major: int
) -> Iterator[Block]:
    """One block per (method, path), in document order."""
    for path, raw_item in paths.items():
        item, _ = refs.deref(raw_item)
        if not isinstance(item, Mapping):
            continue
        for method, operation in item.items():
            if str(method).lower() not in HTTP_METHODS or not isinstance(operation, Mapping):
                continue
            yield _operation_block(spec, str(path), str(method).upper(), item, operation, refs, api_title, major)


def _operation_block(
    spec: Mapping[str, Any],
    path: str,
    method: str,
    item: Mapping[str, Any],
    operation: Mapping[str, Any],
    refs: Refs,
    api_title: str,
    major: int,
) -> Block:
    """The Markdown of one operation: summary, description, parameters, request body, responses."""
    writer = SchemaWriter(refs)
    tags = [as_text(tag) for tag in _listed(operation.get("tags")) if as_text(tag)]
    operation_id = as_text(operation.get("operationId"))
    parts = [f"## {method} {path}"]
    parts += [text for text in (as_text(operation.get("summary")), as_text(operation.get("description"))) if text]
    facts = [f"Operation ID: `{operation_id}`" if operation_id else "", "Tags: " + ", ".join(tags) if tags else ""]
    if operation.get("deprecated") is True:
        facts.append("Deprecated: this operation is deprecated.")
    facts.append(_security(operation.get("security", spec.get("security"))))
    if any(facts):
        parts.append("\n".join(fact for fact in facts if fact))
    parameters = _parameters(item, operation, refs)
    listed = [param for param in parameters if param.get("in") not in ("body", "formData")]
    if listed:
        parts.append("\n".join(["### Parameters", *_parameter_lines(listed, writer, refs)]))
    if major == 2:
        body = _request_body(spec, operation, parameters, refs)
    else:
        body = refs.deref(operation.get("requestBody"))[0]
    if isinstance(body, Mapping):
        heading = "### Request body" + (" (required)" if body.get("required") is True else "")
        description = as_text(body.get("description"))
        parts.append("\n".join([heading, *([description] if description else []), *_content_lines(body, writer)]))
    responses = operation.get("responses")
    if isinstance(responses, Mapping) and responses:
        produces = _media_types(operation.get("produces", spec.get("produces")))
        parts.append("\n".join(["### Responses", *_response_lines(responses, major, produces, writer, refs)]))
    metadata = (("operation_id", operation_id), ("tags", ",".join(tags)), ("method", method), ("path", path))
    return Block(
        text="\n\n".join(parts),
        kind="api-operation",
        heading_path=(api_title, tags[0] if tags else DEFAULT_TAG),
        metadata=metadata,
    )


def _listed(value: Any) -> list[Any]:
    """A list from the document, or no items when it holds something else."""
    return value if isinstance(value, list) else []


def _security(requirements: Any) -> str:
    """`Security: oauth2 (read:pets) or api_key`; '' when the document says nothing."""
    if not isinstance(requirements, list):
        return ""
    if not requirements:
        return "Security: none (public operation)."
    options = []
    for requirement in requirements:
        if isinstance(requirement, Mapping):
            schemes = [
                f"{name} ({', '.join(map(as_text, scopes))})" if isinstance(scopes, list) and scopes else str(name)
                for name, scopes in requirement.items()
            ]
            options.append(" + ".join(schemes) or "none")
    return "Security: " + " or ".join(options) + "." if options else ""


def _parameters(item: Mapping[str, Any], operation: Mapping[str, Any], refs: Refs) -> list[Mapping[str, Any]]:
    """Path-level parameters merged with the operation's; the operation's win on the same (name, in)."""
    merged: dict[tuple[str, str], Mapping[str, Any]] = {}
    for source in (item.get("parameters"), operation.get("parameters")):
        for raw in source if isinstance(source, list) else []:
            param, _ = refs.deref(raw)
            if isinstance(param, Mapping):
                merged[(as_text(param.get("name")), as_text(param.get("in")))] = param
    return list(merged.values())


def _parameter_lines(parameters: list[Mapping[str, Any]], writer: SchemaWriter, refs: Refs) -> list[str]:
    """`- `id` (path, string, required): The user id.` with nested fields for object parameters."""
    lines: list[str] = []
    for param in parameters:
        schema = param.get("schema")
        if schema is None and isinstance(param.get("content"), Mapping) and param["content"]:
            media = next(iter(param["content"].values()))
            schema = media.get("schema") if isinstance(media, Mapping) else None
        if schema is None:
            schema = {key: value for key, value in param.items() if key not in ("required", "description")}
        label, children = writer.describe(schema, 1, 1, frozenset())
        flags = [as_text(param.get("in")) or "?", label]
        flags += [flag for flag in ("required", "deprecated") if param.get(flag) is True]
        line = f"- `{as_text(param.get('name'))}` ({', '.join(flags)})"
        text = one_line(param.get("description") or description_of(param.get("schema"), refs), MAX_FIELD_TEXT)
        lines.append(f"{line}: {text}" if text else line)
        lines.extend(children)
    return lines


def _media_types(value: Any, default: str = "application/json") -> list[str]:
    """Swagger 2 `consumes`/`produces` as a list, with a default when absent."""
    kinds = [as_text(kind) for kind in value if as_text(kind)] if isinstance(value, list) else []
    return kinds or [default]


def _request_body(
    spec: Mapping[str, Any], operation: Mapping[str, Any], parameters: list[Mapping[str, Any]], refs: Refs
) -> dict[str, Any] | None:
    """A Swagger 2 operation's `body` or `formData` parameters as an OpenAPI 3 style request body."""
    consumes = _media_types(operation.get("consumes", spec.get("consumes")))
    body = next((param for param in parameters if param.get("in") == "body"), None)
    if body is not None:
        return {
            "required": body.get("required") is True,
            "description": body.get("description"),
            "content": {kind: {"schema": body.get("schema")} for kind in consumes},
        }
    form = [param for param in parameters if param.get("in") == "formData"]
    if not form:
        return None
    form_kinds = [kind for kind in consumes if kind in ("multipart/form-data", "application/x-www-form-urlencoded")]
    if not form_kinds:
        has_file = any(param.get("type") == "file" for param in form)
        form_kinds = ["multipart/form-data" if has_file else "application/x-www-form-urlencoded"]
    schema = {
        "type": "object",
        "properties": {as_text(param.get("name")): param for param in form},
        "required": [as_text(param.get("name")) for param in form if param.get("required") is True],
    }
    required = any(param.get("required") is True for param in form)
    return {"required": required, "content": {kind: {"schema": schema} for kind in form_kinds}}


def _content_lines(holder: Mapping[str, Any], writer: SchemaWriter, indent: int = 0) -> list[str]:
    """`- `application/json`, `application/xml`: User (object)` and its fields; media types sharing a schema merge."""
    content = holder.get("content")
    if not isinstance(content, Mapping):
        return []
    groups: dict[object, tuple[list[str], Any]] = {}
    for media_type, media in content.items():
        schema = media.get("schema") if isinstance(media, Mapping) else None
        key = schema["$ref"] if isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str) else id(schema)
        groups.setdefault(key, ([], schema))[0].append(f"`{media_type}`")
    lines: list[str] = []
    for media_types, schema in groups.values():
        label, children = (
            ("no schema given", []) if schema is None else writer.describe(schema, indent + 1, 1, frozenset())
        )
        lines.append(f"{INDENT * indent}- {', '.join(media_types)}: {label}")
        lines.extend(children)
    return lines


def _response_lines(
    responses: Mapping[Any, Any], major: int, produces: list[str], writer: SchemaWriter, refs: Refs
) -> list[str]:
    """`- `200`: The user.` with the schema of each content type nested below."""
    lines: list[str] = []
    for status, raw in responses.items():
        if str(status).startswith("x-"):
            continue
        response, _ = refs.deref(raw)
        if not isinstance(response, Mapping):
            continue
        text = one_line(response.get("description"), 2 * MAX_FIELD_TEXT)
        lines.append(f"- `{status}`: {text}" if text else f"- `{status}`")
        if major == 2 and response.get("schema") is not None:
            response = {"content": {kind: {"schema": response["schema"]} for kind in produces}}
        lines.extend(_content_lines(response, writer, indent=1))
    return lines
