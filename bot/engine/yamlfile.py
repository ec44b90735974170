"""Reading the line's YAML files: safe loading (libyaml when there), the line each mapping
starts on (so every error names file and line), a cap on aliases, and spec-version migrations."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from bot.errors import FlowError

SPEC_VERSION = 3


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when PyYAML has it: faster
    """A YAML loader that remembers the line each mapping starts on."""


class _Mapping(dict):
    line: int = 0


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Mapping:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:  # a key written twice would silently override the first
        if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
            continue  # "<<: *base" merges; it is not a key of its own
        value = loader.construct_object(key_node, deep=True)
        key = (type(value).__name__, value)  # 1 and true are two keys
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key '{value}' is written twice (first on line {seen[key]})", key_node.start_mark)
        seen[key] = key_node.start_mark.line + 1
    mapping = _Mapping(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
MAX_ALIASES = 20  # "*name" references in one file: enough to share a menu, too few for an alias bomb


def _count_aliases(text: str, path: Path) -> None:
    """Refuse a file with more than MAX_ALIASES aliases before building it (a 1 KB file can expand to GBs)."""
    aliases = 0
    for event in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise FlowError(path, f"uses more than {MAX_ALIASES} aliases (*name); write the values out",
                                line=event.start_mark.line + 1)


def read_yaml(path: Path) -> Any:
    """Parse one YAML file; a syntax error becomes a FlowError with its line."""
    try:
        text = path.read_text(encoding="utf-8")
        _count_aliases(text, path)
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as err:
        line = err.problem_mark.line + 1 if err.problem_mark else None
        raise FlowError(path, f"not valid YAML: {err.problem}", line=line) from None
    except (OSError, UnicodeDecodeError) as err:
        raise FlowError(path, f"cannot be read: {err}") from None


def line_of(value: Any) -> int | None:
    """The line a mapping read by read_yaml started on."""
    return getattr(value, "line", None) or None


def _v1_to_v2(document: dict) -> dict:
    """Version 1 named a node's message `text` and its directory categories `categories`."""
    nodes = {}
    for node_id, raw in (document.get("nodes") or {}).items():
        if isinstance(raw, Mapping):
            renamed = {{"text": "say", "categories": "resources"}.get(k, k): v for k, v in raw.items()}
            raw = _Mapping(renamed) if not hasattr(raw, "line") else _with_line(renamed, raw.line)
        nodes[node_id] = raw
    return {**document, "nodes": nodes, "spec_version": 2}


def _with_line(values: dict, line: int) -> _Mapping:
    mapping = _Mapping(values)
    mapping.line = line
    return mapping


def _v2_to_v3(document: dict) -> dict:
    """Version 3 lists the line's languages in the file with the welcome; version 2 meant English and Spanish."""
    nodes = document.get("nodes")
    if isinstance(nodes, Mapping) and "welcome" in nodes and "languages" not in document:
        document = {**document, "languages": ["en", "es"]}
    return {**document, "spec_version": 3}


# Migrations from older spec versions, goflow style: {from_version: document -> next version}.
MIGRATIONS: dict[int, Callable[[dict], dict]] = {1: _v1_to_v2, 2: _v2_to_v3}


def migrate(document: dict, path: Path, current: int = SPEC_VERSION,
            migrations: Mapping[int, Callable[[dict], dict]] = MIGRATIONS) -> dict:
    """Bring a document up to the current spec version, one migration at a time."""
    version = document.get("spec_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise FlowError(path, "spec_version is missing or not a whole number", line=1)
    if version > current:
        raise FlowError(path, f"spec_version {version} is newer than this bot ({current})")
    while version < current:
        if version not in migrations:
            raise FlowError(path, f"spec_version {version} is too old and cannot be migrated")
        document = migrations[version](document)
        version += 1
    return document
