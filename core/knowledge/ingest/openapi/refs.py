"""Local `$ref`s of one OpenAPI document: checked, looked up and followed, loops refused."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from core.errors import BadFile

MAX_REF_HOPS = 32  # a `$ref` pointing at a `$ref` ... this many times is taken for a loop


class Refs:
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


def ref_name(ref: str) -> str:
    """The display name of a reference: `#/components/schemas/User` -> `User`."""
    tail = ref.rsplit("#", 1)[-1].rstrip("/").rsplit("/", 1)[-1] or ref
    return unquote(tail).replace("~1", "/").replace("~0", "~")
