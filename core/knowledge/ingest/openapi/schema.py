"""Schemas of one operation as an indented Markdown field list, bounded in depth and lines."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.knowledge.ingest.openapi.refs import Refs, ref_name

MAX_DEPTH = 5  # schema nesting levels expanded; deeper schemas are shown by type or name only
MAX_SCHEMA_LINES = 150  # field lines per operation; past that one line says the rest is omitted
MAX_ENUM_VALUES = 10
MAX_FIELD_TEXT = 300  # characters of one field or parameter description
INDENT = "  "


class SchemaWriter:
    """Renders the schemas of one operation as an indented Markdown field list; each named schema expands once."""

    def __init__(self, refs: Refs) -> None:
        self.refs = refs
        self.expanded: set[str] = set()
        self.lines_left = MAX_SCHEMA_LINES
        self.truncated = False

    def describe(self, schema: Any, indent: int, depth: int, stack: frozenset[str]) -> tuple[str, list[str]]:
        """A short label for `schema` and the lines of the fields inside it, indented by `indent` levels."""
        target, ref = self.refs.deref(schema)
        if ref is None:
            return self._describe_inline(target, indent, depth, stack)
        name = ref_name(ref)
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
            text = one_line(description_of(prop, self.refs), MAX_FIELD_TEXT)
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
        types = [as_text(kind) for kind in declared if as_text(kind)]
    elif as_text(declared):
        types = [as_text(declared)]
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
    if as_text(schema.get("format")):
        notes.append(as_text(schema["format"]))
    if isinstance(schema.get("enum"), list):
        values = [_shown(value) for value in schema["enum"][:MAX_ENUM_VALUES]]
        more = ", …" if len(schema["enum"]) > MAX_ENUM_VALUES else ""
        notes.append("one of: " + ", ".join(values) + more)
    if "const" in schema:
        notes.append(f"always {_shown(schema['const'])}")
    if "default" in schema:
        notes.append(f"default {_shown(schema['default'])}")
    notes += [flag.replace("O", " o") for flag in ("deprecated", "readOnly", "writeOnly") if schema.get(flag) is True]
    return notes


def _shown(value: Any) -> str:
    """A value from the document in backticks; a list or object only by its size, never written out whole."""
    if isinstance(value, list | Mapping) and value:
        kind, unit = ("a list", "value") if isinstance(value, list) else ("an object", "key")
        return f"{kind} of {len(value)} {unit}{'s' if len(value) > 1 else ''}"
    if isinstance(value, list | Mapping):
        return "`[]`" if isinstance(value, list) else "`{}`"
    return f"`{one_line(value, MAX_FIELD_TEXT)}`"


def _join(label: str, notes: list[str]) -> str:
    """`label, note, note`."""
    return ", ".join([label, *notes])


def description_of(node: Any, refs: Refs) -> Any:
    """A node's own description (it may sit beside a `$ref`), else the description of what it refers to."""
    if isinstance(node, Mapping) and node.get("description"):
        return node["description"]
    target, _ = refs.deref(node)
    return target.get("description") if isinstance(target, Mapping) else None


def as_text(value: Any) -> str:
    """A scalar from the document as stripped text ('' for None, and for a list or object, which is no text)."""
    return str(value).strip() if isinstance(value, str | int | float | bool) else ""


def one_line(value: Any, limit: int) -> str:
    """Text with its whitespace collapsed, cut to `limit` characters."""
    text = " ".join(as_text(value).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
