"""Turn an OpenAPI 3.x or Swagger 2.0 document into one Markdown block per operation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import PurePath
from typing import Any
from urllib.parse import unquote

from core.errors import BadFile
from core.types import Block, ParsedDocument

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
DEFAULT_TAG = "default"
MAX_DEPTH = 5  # schema nesting levels expanded; deeper schemas are shown by type or name only
MAX_SCHEMA_LINES = 150  # field lines per operation; past that one line says the rest is omitted
MAX_ENUM_VALUES = 10
MAX_FIELD_TEXT = 300  # characters of one field or parameter description
MAX_REF_HOPS = 32  # a `$ref` pointing at a `$ref` ... this many times is taken for a loop
INDENT = "  "


def parse_openapi(spec: dict[str, Any], source_name: str) -> ParsedDocument:
    """One `api-operation` block per operation, local `$ref`s resolved, cycle-safe and bounded in size."""
    major = _major_version(spec, source_name)
    paths = spec.get("paths")
    if not isinstance(paths, Mapping):
        raise BadFile(
            f"{source_name} is an OpenAPI document without a `paths` section, so it describes no operations: "
            "add the `paths` of the API (or upload the complete specification) and try again."
        )
    refs = _Refs(spec, source_name)
    refs.check_all()
    info = spec.get("info") if isinstance(spec.get("info"), Mapping) else {}
    api_title = _text(info.get("title")) or PurePath(source_name).stem
    blocks = tuple(_operation_blocks(spec, paths, refs, api_title, major))
    if not blocks:
        raise BadFile(
            f"{source_name} is an OpenAPI document whose `paths` define no operations (get, post, ...): "
            "there is nothing to ingest; upload the specification that lists the API's operations."
        )
    title = f"{api_title} {_text(info.get('version'))}".strip()
    return ParsedDocument(title=title, description=_text(info.get("description")), blocks=blocks)


def _major_version(spec: Mapping[str, Any], source_name: str) -> int:
    """3 for OpenAPI 3.x, 2 for Swagger 2.0; any other version is refused with the way out."""
    if "openapi" in spec:
        version = _text(spec["openapi"])
        if version.split(".")[0] == "3":
            return 3
        raise BadFile(
            f"{source_name} declares `openapi: {version}`, a version Polydesk cannot read: "
            "it reads OpenAPI 3.x and Swagger 2.0; convert the document to OpenAPI 3 and upload it again."
        )
    version = _text(spec.get("swagger"))
    if version in ("2", "2.0"):
        return 2
    raise BadFile(
        f"{source_name} declares `swagger: {version}`, a version Polydesk cannot read: it reads Swagger 2.0 and "
        "OpenAPI 3.x; convert the document (for example in the Swagger Editor) and upload it again."
    )


class _Refs:
    """Looks up local `$ref`s (`#/components/...`, `#/definitions/...`) in one document."""

    def __init__(self, spec: Mapping[str, Any], source_name: str) -> None:
        self.spec = spec
        self.source_name = source_name

    def check_all(self) -> None:
        """Raise BadFile for the first local `$ref` anywhere in the document that points nowhere."""
        seen: set[int] = set()
        stack: list[tuple[Any, tuple[str, ...]]] = [(self.spec, ())]
        while stack:
            node, where = stack.pop()
            if isinstance(node, Mapping):
                if id(node) in seen:
                    continue
                seen.add(id(node))
                if isinstance(node.get("$ref"), str):
                    self.lookup(node["$ref"], where)
                children = [(value, (*where, str(key))) for key, value in node.items()]
            elif isinstance(node, list):
                if id(node) in seen:
                    continue
                seen.add(id(node))
                children = [(value, (*where, str(index))) for index, value in enumerate(node)]
            else:
                continue
            stack.extend(reversed(children))

    def lookup(self, ref: str, where: tuple[str, ...] = ()) -> Any:
        """The node a local JSON-pointer `$ref` points at (external refs are not followed: None)."""
        if not ref.startswith("#"):
            return None
        node: Any = self.spec
        for part in ref[1:].split("/")[1:]:
            key = unquote(part).replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and key in node:
                node = node[key]
            elif isinstance(node, Mapping) and key.isdigit() and int(key) in node:
                node = node[int(key)]  # YAML reads `200:` as a number
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                place = " > ".join(where) or "the top level"
                raise BadFile(
                    f"{self.source_name}: `$ref: '{ref}'` (at {place}) points to nothing: the document has no "
                    f"`{key}` there. Add the missing definition or correct the reference, then upload it again."
                )
        return node

    def deref(self, node: Any) -> tuple[Any, str | None]:
        """Follow `$ref`s from `node`: the target and the first reference followed (None when there was none)."""
        first_ref: str | None = None
        for _ in range(MAX_REF_HOPS):
            if not (isinstance(node, Mapping) and isinstance(node.get("$ref"), str)):
                return node, first_ref
            ref = node["$ref"]
            first_ref = first_ref or ref
            if not ref.startswith("#"):
                return node, first_ref
            node = self.lookup(ref)
        raise BadFile(
            f"{self.source_name}: `$ref: '{first_ref}'` leads to a loop of references that only point at each "
            "other; make one of them a real definition and upload the document again."
        )


def _ref_name(ref: str) -> str:
    """The display name of a reference: `#/components/schemas/User` -> `User`."""
    tail = ref.rsplit("#", 1)[-1].rstrip("/").rsplit("/", 1)[-1] or ref
    return unquote(tail).replace("~1", "/").replace("~0", "~")


class _SchemaWriter:
    """Renders the schemas of one operation as an indented Markdown field list; each named schema expands once."""

    def __init__(self, refs: _Refs) -> None:
        self.refs = refs
        self.expanded: set[str] = set()
        self.lines_left = MAX_SCHEMA_LINES
        self.truncated = False

    def describe(self, schema: Any, indent: int, depth: int, stack: frozenset[str]) -> tuple[str, list[str]]:
        """A short label for `schema` and the lines of the fields inside it, indented by `indent` levels."""
        target, ref = self.refs.deref(schema)
        if ref is None:
            return self._describe_inline(target, indent, depth, stack)
        name = _ref_name(ref)
        if not ref.startswith("#"):
            return f"{name} (external reference `{ref}`)", []
        if ref in stack:
            return f"{name} (recursive, see above)", []
        if ref in self.expanded:
            return f"{name} (see above)", []
        if depth > MAX_DEPTH:
            return name, []
        self.expanded.add(ref)
        label, children = self._describe_inline(target, indent, depth, stack | {ref})
        return f"{name} ({label})", children

    def _describe_inline(self, schema: Any, indent: int, depth: int, stack: frozenset[str]) -> tuple[str, list[str]]:
        """Label and field lines of a schema that is not itself a reference."""
        if not isinstance(schema, Mapping):
            return "any", []
        schema, merged_refs = self._merge_all_of(schema, stack, depth)
        stack |= merged_refs
        types = _types(schema)
        notes = _notes(schema)
        for key in ("oneOf", "anyOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                return self._describe_variants(schema[key], key, notes, indent, depth, stack)
        if "array" in types:
            item_label, children = self.describe(schema.get("items", {}), indent, depth + 1, stack)
            label = " | ".join(f"array of {item_label}" if kind == "array" else kind for kind in types)
            return _join(label, notes), children
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping) and not schema.get("properties"):
            value_label, children = self.describe(extra, indent, depth + 1, stack)
            return _join("map of " + value_label, notes), children
        properties = schema.get("properties")
        if isinstance(properties, Mapping) and properties:
            return _join(" | ".join(types or ["object"]), notes), self._fields(schema, indent, depth, stack)
        return _join(" | ".join(types) or "any", notes), []

    def _describe_variants(
        self, variants: list[Any], key: str, notes: list[str], indent: int, depth: int, stack: frozenset[str]
    ) -> tuple[str, list[str]]:
        """`oneOf` / `anyOf`: one line per option, each with its own fields below it."""
        lines: list[str] = []
        labels: list[str] = []
        for number, variant in enumerate(variants, 1):
            label, children = self.describe(variant, indent + 1, depth + 1, stack)
            labels.append(label.split(" (", 1)[0])
            if self._take(indent, lines):
                lines.append(f"{INDENT * indent}- option {number}: {label}")
                lines.extend(children)
        word = "one of" if key == "oneOf" else "any of"
        return _join(f"{word}: " + " | ".join(labels), notes), lines

    def _fields(self, schema: Mapping[str, Any], indent: int, depth: int, stack: frozenset[str]) -> list[str]:
        """One line per property (name, type, required, description), nested properties indented below."""
        lines: list[str] = []
        if depth > MAX_DEPTH:
            return lines
        required = schema.get("required") if isinstance(schema.get("required"), list) else []
        for name, prop in schema["properties"].items():
            if not self._take(indent, lines):
                break
            label, children = self.describe(prop, indent + 1, depth + 1, stack)
            if name in required:
                label += ", required"
            line = f"{INDENT * indent}- `{name}` ({label})"
            text = _one_line(_description(prop, self.refs), MAX_FIELD_TEXT)
            lines.append(f"{line}: {text}" if text else line)
            lines.extend(children)
        return lines

    def _take(self, indent: int, lines: list[str]) -> bool:
        """Spend one line of the operation's budget; when it is spent, say so once and refuse."""
        if self.lines_left > 0:
            self.lines_left -= 1
            return True
        if not self.truncated:
            self.truncated = True
            lines.append(f"{INDENT * indent}- … (further fields omitted; see the full specification)")
        return False

    def _merge_all_of(
        self, schema: Mapping[str, Any], stack: frozenset[str], depth: int
    ) -> tuple[Mapping[str, Any], frozenset[str]]:
        """Fold `allOf` parts into one schema (their properties first, then its own), with the refs folded in."""
        parts = schema.get("allOf")
        if not isinstance(parts, list) or depth > MAX_DEPTH:
            return schema, frozenset()
        folded: set[str] = set()
        merged: dict[str, Any] = {}
        properties: dict[str, Any] = {}
        required: list[str] = []
        for part in parts:
            target, ref = self.refs.deref(part)
            if not isinstance(target, Mapping) or (ref is not None and ref in stack):
                continue
            if ref is not None:
                folded.add(ref)
            target, inner = self._merge_all_of(target, stack | folded, depth + 1)
            folded |= inner
            for key, value in target.items():
                merged.setdefault(key, value)
            properties.update(target.get("properties") or {})
            required += target.get("required") if isinstance(target.get("required"), list) else []
        merged.update({key: value for key, value in schema.items() if key != "allOf"})
        properties.update(schema.get("properties") or {})
        if isinstance(schema.get("required"), list):
            required += schema["required"]
        if properties:
            merged["properties"] = properties
            merged["required"] = required
            merged.setdefault("type", "object")
        return merged, frozenset(folded)


def _types(schema: Mapping[str, Any]) -> list[str]:
    """The schema's type names (OpenAPI 3.1 allows a list), inferred from its keywords when absent."""
    declared = schema.get("type")
    if isinstance(declared, list):
        types = [str(kind) for kind in declared]
    elif declared:
        types = [str(declared)]
    elif "items" in schema:
        types = ["array"]
    elif "properties" in schema or "additionalProperties" in schema:
        types = ["object"]
    else:
        types = []
    if schema.get("nullable") is True and "null" not in types:
        types.append("null")
    return types


def _notes(schema: Mapping[str, Any]) -> list[str]:
    """Format, allowed values, default and flags, each a short phrase."""
    notes: list[str] = []
    if schema.get("format"):
        notes.append(str(schema["format"]))
    if isinstance(schema.get("enum"), list):
        values = [f"`{value}`" for value in schema["enum"][:MAX_ENUM_VALUES]]
        more = ", …" if len(schema["enum"]) > MAX_ENUM_VALUES else ""
        notes.append("one of: " + ", ".join(values) + more)
    if "const" in schema:
        notes.append(f"always `{schema['const']}`")
    if "default" in schema:
        notes.append(f"default `{schema['default']}`")
    notes += [flag.replace("O", " o") for flag in ("deprecated", "readOnly", "writeOnly") if schema.get(flag) is True]
    return notes


def _join(label: str, notes: list[str]) -> str:
    """`label, note, note`."""
    return ", ".join([label, *notes])


def _description(node: Any, refs: _Refs) -> Any:
    """A node's own description (it may sit beside a `$ref`), else the description of what it refers to."""
    if isinstance(node, Mapping) and node.get("description"):
        return node["description"]
    target, _ = refs.deref(node)
    return target.get("description") if isinstance(target, Mapping) else None


def _text(value: Any) -> str:
    """A scalar from the document as stripped text ('' for None)."""
    return "" if value is None else str(value).strip()


def _one_line(value: Any, limit: int) -> str:
    """Text with its whitespace collapsed, cut to `limit` characters."""
    text = " ".join(_text(value).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _operation_blocks(
    spec: Mapping[str, Any], paths: Mapping[str, Any], refs: _Refs, api_title: str, major: int
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
    refs: _Refs,
    api_title: str,
    major: int,
) -> Block:
    """The Markdown of one operation: summary, description, parameters, request body, responses."""
    writer = _SchemaWriter(refs)
    tags = [str(tag) for tag in operation.get("tags") or [] if _text(tag)]
    operation_id = _text(operation.get("operationId"))
    parts = [f"## {method} {path}"]
    parts += [text for text in (_text(operation.get("summary")), _text(operation.get("description"))) if text]
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
        description = _text(body.get("description"))
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
                f"{name} ({', '.join(map(str, scopes))})" if isinstance(scopes, list) and scopes else str(name)
                for name, scopes in requirement.items()
            ]
            options.append(" + ".join(schemes) or "none")
    return "Security: " + " or ".join(options) + "." if options else ""


def _parameters(item: Mapping[str, Any], operation: Mapping[str, Any], refs: _Refs) -> list[Mapping[str, Any]]:
    """Path-level parameters merged with the operation's; the operation's win on the same (name, in)."""
    merged: dict[tuple[str, str], Mapping[str, Any]] = {}
    for source in (item.get("parameters"), operation.get("parameters")):
        for raw in source if isinstance(source, list) else []:
            param, _ = refs.deref(raw)
            if isinstance(param, Mapping):
                merged[(_text(param.get("name")), _text(param.get("in")))] = param
    return list(merged.values())


def _parameter_lines(parameters: list[Mapping[str, Any]], writer: _SchemaWriter, refs: _Refs) -> list[str]:
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
        flags = [_text(param.get("in")) or "?", label]
        flags += [flag for flag in ("required", "deprecated") if param.get(flag) is True]
        line = f"- `{_text(param.get('name'))}` ({', '.join(flags)})"
        text = _one_line(param.get("description") or _description(param.get("schema"), refs), MAX_FIELD_TEXT)
        lines.append(f"{line}: {text}" if text else line)
        lines.extend(children)
    return lines


def _media_types(value: Any, default: str = "application/json") -> list[str]:
    """Swagger 2 `consumes`/`produces` as a list, with a default when absent."""
    return [str(kind) for kind in value] if isinstance(value, list) and value else [default]


def _request_body(
    spec: Mapping[str, Any], operation: Mapping[str, Any], parameters: list[Mapping[str, Any]], refs: _Refs
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
        "properties": {_text(param.get("name")): param for param in form},
        "required": [_text(param.get("name")) for param in form if param.get("required") is True],
    }
    required = any(param.get("required") is True for param in form)
    return {"required": required, "content": {kind: {"schema": schema} for kind in form_kinds}}


def _content_lines(holder: Mapping[str, Any], writer: _SchemaWriter, indent: int = 0) -> list[str]:
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
    responses: Mapping[Any, Any], major: int, produces: list[str], writer: _SchemaWriter, refs: _Refs
) -> list[str]:
    """`- `200`: The user.` with the schema of each content type nested below."""
    lines: list[str] = []
    for status, raw in responses.items():
        if str(status).startswith("x-"):
            continue
        response, _ = refs.deref(raw)
        if not isinstance(response, Mapping):
            continue
        text = _one_line(response.get("description"), 2 * MAX_FIELD_TEXT)
        lines.append(f"- `{status}`: {text}" if text else f"- `{status}`")
        if major == 2 and response.get("schema") is not None:
            response = {"content": {kind: {"schema": response["schema"]} for kind in produces}}
        lines.extend(_content_lines(response, writer, indent=1))
    return lines
