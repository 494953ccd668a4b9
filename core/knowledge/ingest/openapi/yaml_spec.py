"""YAML read safely: aliases may share a node, but the document they expand to is bounded ("billion laughs")."""

from __future__ import annotations

from typing import Any

import yaml

from core.errors import BadFile

MAX_EXPANDED = 2_000_000  # nodes plus scalar characters of the document with every alias expanded
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str, name: str) -> Any:
    """The document's data; BadFile when its aliases expand past MAX_EXPANDED (yaml.YAMLError when it is not YAML)."""
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = expanded_size(node)
        if size > MAX_EXPANDED:
            raise BadFile(
                f"{name} uses YAML aliases (*name) that expand to more than {MAX_EXPANDED:,} values and "
                "characters, far more than any API description needs: write the repeated parts out, or remove "
                "the aliases that refer to other aliases, and upload it again."
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def expanded_size(root: yaml.Node) -> int:
    """Nodes plus scalar characters once every alias is expanded, counted without expanding (capped past the
    limit); a node that contains itself counts as too large."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children = _children(node)
        if children_done:
            open_nodes.discard(key)
            total = 1 + sum(sizes[id(child)] for child in children)
            sizes[key] = min(total, MAX_EXPANDED + 1)
            continue
        if key in open_nodes:
            return MAX_EXPANDED + 1  # a recursive alias: the node holds itself
        if isinstance(node, yaml.ScalarNode):
            sizes[key] = 1 + len(node.value)
            continue
        open_nodes.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in open_nodes:
                return MAX_EXPANDED + 1
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    """The nodes directly inside a sequence or mapping (keys and values)."""
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
