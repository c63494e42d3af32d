#!/usr/bin/env python3
"""Generates docs/manifest-reference.md: every field of the `service.yaml` manifest, from the JSON
Schema of loco-types (so the reference cannot miss a field or drift from what is accepted).
Usage: python3 scripts/codegen/manifest_reference.py SCHEMA OUT_ROOT   (scripts/codegen/run calls it)

One section per type reachable from `Manifest`, in the order they are first met; each lists its
fields with type, whether required (or the default), and the description written on the Rust field.
A tagged union lists its variants by their `type`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

OUTPUT = Path("docs/manifest-reference.md")
ROOT = "Manifest"


def ref_name(schema: dict) -> str | None:
    ref = schema.get("$ref", "")
    return ref.removeprefix("#/$defs/") if ref.startswith("#/$defs/") else None


def non_null(schema: dict) -> dict:
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if options and any(o.get("type") == "null" for o in options):
            rest = [o for o in options if o.get("type") != "null"]
            if len(rest) == 1:
                return rest[0]
    types = schema.get("type")
    if isinstance(types, list) and "null" in types:
        rest = [t for t in types if t != "null"]
        return {**schema, "type": rest[0] if len(rest) == 1 else rest}
    return schema


def field_order(schema: dict) -> list[str]:
    """Required fields in the schema's order, then the others by name."""
    required = schema.get("required", [])
    props = schema.get("properties", {})
    return [n for n in required if n in props] + sorted(n for n in props if n not in required)


def one_line(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


class Reference:
    def __init__(self, schema: dict):
        self.defs = schema["$defs"]
        self.order: list[str] = []

    def visit(self, name: str) -> None:
        if name in self.order:
            return
        self.order.append(name)
        self.walk(self.defs[name])

    def walk(self, schema: dict) -> None:
        schema = non_null(schema)
        if name := ref_name(schema):
            self.visit(name)
            return
        for option in schema.get("oneOf", []) + schema.get("anyOf", []):
            self.walk(option)
        for name in field_order(schema):
            self.walk(schema["properties"][name])
        if isinstance(schema.get("items"), dict):
            self.walk(schema["items"])
        if isinstance(schema.get("additionalProperties"), dict):
            self.walk(schema["additionalProperties"])

    def type_of(self, schema: dict) -> str:
        schema = non_null(schema)
        if name := ref_name(schema):
            return f"[{name}](#{name.lower()})"
        if "const" in schema:
            return f"`{json.dumps(schema['const'])}`"
        types = schema.get("type")
        if types == "array":
            return f"list of {self.type_of(schema.get('items', {}))}"
        if types == "object" and isinstance(schema.get("additionalProperties"), dict):
            return f"map of string to {self.type_of(schema['additionalProperties'])}"
        if isinstance(types, list):
            return " or ".join(types)
        fmt = schema.get("format")
        if types == "integer" and fmt in ("uint8", "uint16", "uint32", "uint64", "uint"):
            return f"integer ≥ 0 ({fmt})"
        if types == "number":
            return "number"
        if types == "string" and fmt == "date-time":
            return "RFC 3339 time"
        return types or "any"

    def fields(self, schema: dict) -> list[str]:
        required = schema.get("required", [])
        props = schema.get("properties", {})
        lines = ["| Field | Type | Required | Description |", "|---|---|---|---|"]
        for name in field_order(schema):
            prop = props[name]
            if name in required:
                need = "yes"
            elif "default" in prop:
                need = f"no (default `{json.dumps(prop['default'])}`)" if len(json.dumps(prop["default"])) <= 40 \
                    else "no (see the type's defaults)"
            else:
                need = "no"
            lines.append(f"| `{name}` | {self.type_of(prop)} | {need} | {one_line(prop.get('description'))} |")
        return lines

    def section(self, name: str) -> list[str]:
        schema = self.defs[name]
        out = [f"## {name}", "", one_line(schema.get("description")), ""]
        variants = schema.get("oneOf")
        if variants and all("const" in v for v in variants):
            out += ["One of:", ""]
            out += [f"- `{json.dumps(v['const'])}`: {one_line(v.get('description'))}" for v in variants]
            return out + [""]
        if variants:
            out += ["One of the following, chosen by `type`:", ""]
            for variant in variants:
                tag = variant.get("properties", {}).get("type", {}).get("const", "?")
                out += [f"### `type: {tag}`", "", one_line(variant.get("description")), ""]
                out += self.fields(variant) + [""]
            return out
        if "enum" in schema:
            out += ["One of: " + ", ".join(f"`{json.dumps(v)}`" for v in schema["enum"]), ""]
            return out
        if schema.get("type") == "object" and "properties" in schema:
            unknown = "Unknown fields are errors." if schema.get("additionalProperties") is False else ""
            return out + self.fields(schema) + ["", unknown, ""] if unknown else out + self.fields(schema) + [""]
        out += [f"Type: {self.type_of(schema)}", ""]
        return out


def main() -> int:
    schema_path, out_root = Path(sys.argv[1]), Path(sys.argv[2])
    schema = json.loads(schema_path.read_text())
    reference = Reference(schema)
    reference.visit(ROOT)
    lines = [
        "# `service.yaml` reference",
        "",
        "<!-- Generated by scripts/codegen/manifest_reference.py from schema/loco.schema.json; do not edit. -->",
        "",
        "Every field a manifest may hold, type by type, starting from the document itself. The guide is",
        "[manifest.md](manifest.md); the JSON Schema is `schema/manifest.schema.json` (`loco manifest schema`).",
        "Paths in error messages follow these names: `stages[2].rollout.strategy.steps[1]`.",
        "",
    ]
    for name in reference.order:
        lines += reference.section(name)
    text = "\n".join(lines).rstrip() + "\n"
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    target = out_root / OUTPUT
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
