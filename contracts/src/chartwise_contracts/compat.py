"""Decides whether a message schema can replace its snapshot without breaking producers or consumers.

Breaking: a required field removed, a new field required, a field's type changed, an enum narrowed, a
bound tightened. Adding optional fields and widening types or enums is compatible, because consumers
ignore what they do not know.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

_TIGHTER_IF_LOWER = ("maxLength", "maximum", "exclusiveMaximum", "maxItems")
_TIGHTER_IF_HIGHER = ("minLength", "minimum", "exclusiveMinimum", "minItems")


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """Every incompatibility between an old and a new JSON Schema, as readable paths; empty if none."""
    return _Comparison(old, new).compare(old, new, "$")


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self._old_defs = old_root.get("$defs", {})
        self._new_defs = new_root.get("$defs", {})
        self._seen: set[tuple[str, str]] = set()

    def compare(self, old: Schema, new: Schema, path: str) -> list[str]:
        old, old_ref = _resolve(old, self._old_defs)
        new, new_ref = _resolve(new, self._new_defs)
        if old_ref and new_ref:
            if (old_ref, new_ref) in self._seen:
                return []
            self._seen.add((old_ref, new_ref))
        problems: list[str] = []
        old_types, new_types = self._types(old), self._types(new)
        if not old_types <= new_types:
            lost = ", ".join(sorted(old_types - new_types))
            problems.append(f"{path}: type no longer accepts {lost}")
        problems += _enum_narrowing(old, new, path)
        problems += _tightened_bounds(old, new, path)
        if "object" in old_types & new_types:
            problems += self._compare_objects(self._object_of(old), self._object_of(new), path)
        if "array" in old_types & new_types:
            old_items, new_items = self._items_of(old), self._items_of(new)
            if old_items is not None and new_items is not None:
                problems += self.compare(old_items, new_items, f"{path}[]")
        return problems

    def _compare_objects(self, old: Schema, new: Schema, path: str) -> list[str]:
        problems: list[str] = []
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        for name in sorted(old_required - set(new_props)):
            problems.append(f"{path}.{name}: required field removed")
        for name in sorted(new_required - old_required):
            problems.append(f"{path}.{name}: field is now required")
        for name in sorted(set(old_props) & set(new_props)):
            problems += self.compare(old_props[name], new_props[name], f"{path}.{name}")
        return problems

    def _types(self, schema: Schema) -> set[str]:
        types: set[str] = set()
        for variant in _flatten(schema, self._old_defs, self._new_defs):
            declared = variant.get("type")
            if isinstance(declared, list):
                types.update(declared)
            elif isinstance(declared, str):
                types.add(declared)
            elif "enum" in variant or "const" in variant:
                values = variant.get("enum", [variant.get("const")])
                types.update(_json_type(v) for v in values)
            elif "properties" in variant:
                types.add("object")
            else:
                types.add("any")
        if "any" in types:
            return {"any"} | types
        return types

    def _object_of(self, schema: Schema) -> Schema:
        for variant in _flatten(schema, self._old_defs, self._new_defs):
            if variant.get("type") == "object" or "properties" in variant:
                return variant
        return {}

    def _items_of(self, schema: Schema) -> Schema | None:
        for variant in _flatten(schema, self._old_defs, self._new_defs):
            if variant.get("type") == "array":
                items = variant.get("items")
                return items if isinstance(items, dict) else None
        return None


def _resolve(schema: Schema, defs: dict[str, Schema]) -> tuple[Schema, str | None]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        return defs.get(name, {}), name
    return schema, None


def _flatten(schema: Schema, *def_sets: dict[str, Schema]) -> list[Schema]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        for defs in def_sets:
            if name in defs:
                return _flatten(defs[name], *def_sets)
        return [{}]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return [v for item in schema[key] for v in _flatten(item, *def_sets)]
    return [schema]


def _enum_narrowing(old: Schema, new: Schema, path: str) -> list[str]:
    old_values = _enum_values(old)
    new_values = _enum_values(new)
    if old_values is None or new_values is None:
        return []
    missing = [v for v in old_values if v not in new_values]
    return [f"{path}: enum no longer accepts {missing}"] if missing else []


def _enum_values(schema: Schema) -> list[Any] | None:
    if "enum" in schema:
        return list(schema["enum"])
    if "const" in schema:
        return [schema["const"]]
    return None


def _tightened_bounds(old: Schema, new: Schema, path: str) -> list[str]:
    problems = []
    for key in _TIGHTER_IF_LOWER:
        if key in new and (key not in old or new[key] < old[key]):
            problems.append(f"{path}: {key} tightened to {new[key]}")
    for key in _TIGHTER_IF_HIGHER:
        if key in new and (key not in old or new[key] > old[key]):
            problems.append(f"{path}: {key} tightened to {new[key]}")
    return problems


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
