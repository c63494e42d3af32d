#!/usr/bin/env python3
"""Generates the data model of the Python package `loco` from the JSON Schema of loco-types.

Usage: python3 scripts/codegen/python.py SCHEMA OUT_ROOT   (scripts/codegen/run calls it)

Writes OUT_ROOT/loco-py/python/loco/_types.py: the `Literal` aliases of the string enums, one
`TypedDict` per JSON object Python code sees (the HTTP JSON shapes, plan and threshold documents,
event data) and the immutable result classes the engine returns (`Deployment`, `Event`, `Page`,
`AuditReport`, `BrokenLink`, `Rollout`, `Release`, `LogLine`, `ServiceDefinition`), each a
read-only view of its HTTP JSON object. The native module builds that object and calls the class.

The schema decides every name, field, type and description. What is decided here is Python
presentation only: which types become classes and how they print (CLASSES), the names that differ
from `<SchemaName>Dict` (DICT_NAMES), documents typed loosely for compatibility (LOOSE) and
docstrings that would otherwise speak Rust (DOCS).
"""

from __future__ import annotations

import ast
import json
import keyword
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OUTPUT = Path("loco-py/python/loco/_types.py")
WIDTH = 100


@dataclass(frozen=True)
class Class:
    """A schema object presented as an immutable class instead of a bare dict."""

    repr_fields: tuple[str, ...]
    #: Extra `repr` entries computed from the JSON object `d`: (label, Python expression).
    repr_extra: tuple[tuple[str, str], ...] = ()
    #: The list field that `len()` and iteration walk.
    sequence: str | None = None
    #: Derived read-only properties: (name, annotation, expression over `self._d`, docstring).
    derived: tuple[tuple[str, str, str, str], ...] = ()
    #: Shortcuts to a nested field: (name, path of keys), typed and documented from the schema.
    shortcuts: tuple[tuple[str, tuple[str, ...]], ...] = ()


CLASSES: dict[str, Class] = {
    "Deployment": Class(repr_fields=("id", "service", "environment", "version", "status")),
    "Event": Class(repr_fields=("seq", "deployment_id", "kind", "actor", "to_status")),
    "Page": Class(repr_fields=("items", "next_cursor"), sequence="items"),
    "AuditReport": Class(repr_fields=("valid", "events_checked", "first_broken")),
    "BrokenLink": Class(repr_fields=("seq", "event_id", "reason")),
    "AuditHead": Class(repr_fields=("seq", "hash")),
    "Rollout": Class(
        repr_fields=("deployment_id", "service", "environment", "state"),
        repr_extra=(("steps", '"%s/%s" % (d["progress"]["completed_steps"], d["progress"]["total_steps"])'),),
        derived=(
            (
                "is_active",
                "bool",
                'self._d["state"] in ACTIVE_ROLLOUT_STATES',
                "True while it holds its service+environment: its state is one of "
                "``loco.ACTIVE_ROLLOUT_STATES`` (decided by the core).",
            ),
        ),
        shortcuts=(("analysis", ("progress", "analysis")),),
    ),
    "Release": Class(repr_fields=("version", "deployment_id", "activated_at", "retired_at")),
    "LogLine": Class(repr_fields=("instance_id", "stream", "line")),
    "ServiceDefinition": Class(repr_fields=("name", "command")),
    "PlatformConfig": Class(repr_fields=("name", "settings")),
    "ValidationReport": Class(repr_fields=("passed", "omitted")),
    "FreezeWindow": Class(repr_fields=("name", "environments")),
    "ActiveFreeze": Class(repr_fields=("window", "end")),
    "DeployLock": Class(repr_fields=("service", "environment", "deployment_id", "holder")),
    "ScheduledStart": Class(repr_fields=("deployment_id", "at", "state")),
    "ApprovalGate": Class(repr_fields=("environment", "required_approvals")),
    "ReviewerGroup": Class(repr_fields=("name", "members")),
    "Approval": Class(repr_fields=("actor", "at")),
    "ApprovalStatus": Class(repr_fields=("deployment_id", "status", "required", "approvals")),
    "Pipeline": Class(repr_fields=("service", "stages")),
    "StageState": Class(repr_fields=("environment", "deployment_id", "status")),
    "PipelineView": Class(repr_fields=("service", "version", "next")),
}

#: Types Python code sees besides the classes' own: documents it passes in, event data it reads,
#: names it compares with. Everything they refer to is generated too.
ROOTS = (
    "Status",
    "EventKind",
    "Action",
    "ErrorCode",
    "FieldError",
    "RolloutPlan",
    "Thresholds",
    "EventData",
    "Role",
    "PlatformSettings",
    "Capabilities",
    "Manifest",
    "ManifestRecord",
)

#: `TypedDict` names that are not `<SchemaName>Dict`.
DICT_NAMES = {"TestResult": "SignificanceTestDict", "FieldError": "FieldError"}

#: Fields typed `Dict[str, Any]` (they were before generation): nested documents whose optional
#: parts would need narrowing at every read (`rollout.plan["analysis"]["thresholds"]`). Their exact
#: shapes are `RolloutPlanDict` and `EventDataDict`.
LOOSE = {("Rollout", "plan"), ("Event", "data")}

#: Docstrings for fields whose schema description is about Rust, or about a key being absent where
#: Python reads `None`.
DOCS = {
    ("Page", "next_cursor"): "Pass this as ``cursor=`` to get the next page; ``None`` on the last page.",
    ("Event", "data"): "The request a ``created`` event accepted, or the structured facts of a rollout event (step, "
    "traffic, instances, probe results), as a ``dict`` shaped like ``EventDataDict``; ``None`` on the other "
    "lifecycle events (and on ``created`` events written before the audit covered whole records).",
    ("ServiceDefinition", "working_dir"): "Where it runs; ``None`` for the engine's working directory.",
}

PRIMITIVES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}


# --- Types ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ty:
    """A field's type: `kind` is prim, literal, ref, list, map, union or any."""

    kind: str
    name: str = ""
    values: tuple[str, ...] = ()
    items: tuple[Ty, ...] = ()
    nullable: bool = False


def without_description(schema: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in schema.items() if k != "description"}, sort_keys=True)


class Schema:
    def __init__(self, document: dict[str, Any]) -> None:
        self.defs: dict[str, dict[str, Any]] = document["$defs"]
        # A field's schema that copies a definition instead of referring to it is what schemars
        # writes for an `Option` field marked `#[schemars(required)]`: the `null` is lost, so the
        # generated type would be wrong (loco-types marks such fields `Nullable<T>`).
        self.copies = {without_description(s): name for name, s in self.defs.items()}

    def kind(self, name: str) -> str:
        """enum, object, tagged (oneOf objects), union (anyOf references) or alias (a string)."""
        schema = self.defs[name]
        if "oneOf" in schema:
            return "enum" if all("const" in v for v in schema["oneOf"]) else "tagged"
        if "anyOf" in schema:
            return "union"
        if "properties" in schema:
            return "object"
        return "alias"

    def ty(self, schema: dict[str, Any], owner: str = "", prop: str = "") -> Ty:
        """The type of the field `owner.prop` (or of a nested schema)."""
        if "$ref" in schema:
            return Ty("ref", name=schema["$ref"].rsplit("/", 1)[1])
        if "const" in schema:
            return Ty("literal", values=(schema["const"],))
        copied = self.copies.get(without_description(schema))
        if copied is not None:
            sys.exit(f"python.py: {owner}.{prop} copies the schema of {copied} instead of referring to it "
                     "(an Option field marked #[schemars(required)] loses its null); mark it Nullable<T>")
        for key in ("anyOf", "oneOf"):
            if key in schema:
                members = [m for m in schema[key] if m.get("type") != "null"]
                nullable = len(members) < len(schema[key])
                if all("const" in m for m in members):
                    return Ty("literal", values=tuple(m["const"] for m in members), nullable=nullable)
                tys = tuple(self.ty(m) for m in members)
                if len(tys) == 1:
                    return Ty(tys[0].kind, tys[0].name, tys[0].values, tys[0].items, nullable)
                return Ty("union", items=tys, nullable=nullable)
        types = schema.get("type")
        nullable = False
        if isinstance(types, list):
            nullable = "null" in types
            types = [t for t in types if t != "null"]
            types = types[0] if len(types) == 1 else None
        if types == "array":
            return Ty("list", items=(self.ty(schema.get("items", {})),), nullable=nullable)
        if types == "object" and "properties" not in schema:
            extra = schema.get("additionalProperties")
            value = self.ty(extra) if isinstance(extra, dict) else Ty("any")
            return Ty("map", items=(value,), nullable=nullable)
        if types in PRIMITIVES:
            return Ty("prim", name=PRIMITIVES[types], nullable=nullable)
        return Ty("any", nullable=nullable)

    def refs(self, ty: Ty) -> list[str]:
        found = [ty.name] if ty.kind == "ref" else []
        for item in ty.items:
            found += self.refs(item)
        return found

    def dependencies(self, name: str) -> list[str]:
        schema = self.defs[name]
        kind = self.kind(name)
        found: list[str] = []
        if kind == "object":
            for prop, sub in properties(schema):
                found += self.refs(self.ty(sub, name, prop))
        elif kind == "tagged":
            for variant in schema["oneOf"]:
                for prop, sub in properties(variant):
                    found += self.refs(self.ty(sub, name, prop))
        elif kind == "union":
            for member in schema["anyOf"]:
                found += self.refs(self.ty(member))
        return found

    def ordered(self, roots: list[str]) -> list[str]:
        """Every definition reachable from `roots`, each after the ones it refers to."""
        order: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            for dependency in self.dependencies(name):
                visit(dependency)
            order.append(name)

        for root in roots:
            visit(root)
        return order


def properties(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The object's fields: required ones in declaration order, then the others by name."""
    props = schema.get("properties", {})
    required = [p for p in schema.get("required", []) if p in props]
    rest = sorted(p for p in props if p not in required)
    return [(p, props[p]) for p in required + rest]


# --- Names and annotations -------------------------------------------------------------------------


def camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in text.split("_"))


def dict_name(name: str) -> str:
    return DICT_NAMES.get(name, f"{name}Dict")


def type_name(schema: Schema, name: str) -> str:
    """The Python name of a definition in `TypedDict` context."""
    kind = schema.kind(name)
    if kind == "enum":
        return name
    if kind == "alias":
        return PRIMITIVES.get(schema.defs[name].get("type", ""), "Any")
    return dict_name(name)


def annotation(schema: Schema, ty: Ty, classes: bool = False) -> str:
    """`ty` as a Python 3.9 annotation; with `classes`, definitions in CLASSES as their class."""
    if ty.kind == "ref":
        text = ty.name if classes and ty.name in CLASSES else type_name(schema, ty.name)
    elif ty.kind == "prim":
        text = ty.name
    elif ty.kind == "literal":
        text = "Literal[" + ", ".join(json.dumps(v) for v in ty.values) + "]"
    elif ty.kind == "list":
        text = f"List[{annotation(schema, ty.items[0], classes)}]"
    elif ty.kind == "map":
        text = f"Dict[str, {annotation(schema, ty.items[0], classes)}]"
    elif ty.kind == "union":
        text = "Union[" + ", ".join(annotation(schema, t, classes) for t in ty.items) + "]"
    else:
        text = "Any"
    return f"Optional[{text}]" if ty.nullable else text


def field_ty(schema: Schema, owner: str, prop: str, sub: dict[str, Any]) -> Ty:
    ty = schema.ty(sub, owner, prop)
    if (owner, prop) in LOOSE:
        return Ty("map", items=(Ty("any"),), nullable=ty.nullable)
    return ty


def is_timestamp(sub: dict[str, Any]) -> bool:
    return sub.get("$ref") == "#/$defs/Timestamp" or any(is_timestamp(s) for s in sub.get("anyOf", []))


# --- Docstrings ------------------------------------------------------------------------------------


def python_doc(text: str) -> str:
    """A schema description (Rust doc markdown) as reStructuredText-ish Python prose."""
    text = re.sub(r"\[`([^`]+)`\]\([^)]*\)", r"`\1`", text)
    text = re.sub(r"\[`([^`]+)`\]", r"`\1`", text)
    text = re.sub(r"(?<!`)`([^`]+)`(?!`)", r"``\1``", text)
    return " ".join(text.split())


def docstring(text: str, indent: str) -> list[str]:
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = textwrap.wrap(text, WIDTH - len(indent) - 3, break_long_words=False, break_on_hyphens=False)
    if len(lines) == 1 and len(indent) + len(lines[0]) + 6 <= WIDTH:
        return [f'{indent}"""{lines[0]}"""']
    return [f'{indent}"""{lines[0]}'] + [f"{indent}{line}" for line in lines[1:]] + [f'{indent}"""']


def field_doc(owner: str, prop: str, sub: dict[str, Any], ty: Ty) -> str:
    if (owner, prop) in DOCS:
        return DOCS[(owner, prop)]
    text = python_doc(sub.get("description", prop.replace("_", " ").capitalize() + "."))
    if is_timestamp(sub):
        text = text + " RFC 3339 UTC." if text.endswith(").") else text.rstrip(".") + " (RFC 3339 UTC)."
    if ty.nullable and "None" not in text and "null" not in text:
        text = text.rstrip(".") + "; ``None`` when absent."
    return text


# --- Output ----------------------------------------------------------------------------------------


def literal_alias(schema: Schema, name: str) -> list[str]:
    definition = schema.defs[name]
    lines = [f"#: {line}" for line in textwrap.wrap(python_doc(definition.get("description", name)), WIDTH - 3)]
    values = [v["const"] for v in definition["oneOf"]]
    lines.append(f"{name} = Literal[")
    for value, variant in zip(values, definition["oneOf"]):
        if variant.get("description"):
            lines += [f"    # {line}" for line in textwrap.wrap(python_doc(variant["description"]), WIDTH - 6)]
        lines.append(f"    {json.dumps(value)},")
    lines.append("]")
    return lines


def typed_dict(schema: Schema, owner: str, py_name: str, definition: dict[str, Any], doc: str) -> list[str]:
    fields = properties(definition)
    required = set(definition.get("required", []))
    partial = any(prop not in required for prop, _ in fields)
    if partial:
        needed = [prop for prop, _ in fields if prop in required]
        if needed:
            doc += " Keys that must be present: " + ", ".join(f"``{p}``" for p in needed) + "."
    rows = [(prop, annotation(schema, field_ty(schema, owner, prop, sub)), sub) for prop, sub in fields]
    if any(keyword.iskeyword(prop) or not prop.isidentifier() for prop, _, _ in rows):
        items = ", ".join(f"{json.dumps(prop)}: {ann}" for prop, ann, _ in rows)
        total = ", total=False" if partial else ""
        return [f'{py_name} = TypedDict("{py_name}", {{{items}}}{total})']
    lines = [f"class {py_name}(TypedDict{', total=False' if partial else ''}):"]
    lines += docstring(doc, "    ")
    if rows:
        lines.append("")
    for prop, ann, sub in rows:
        description = DOCS.get((owner, prop)) or python_doc(sub.get("description", ""))
        if description:
            lines += [f"    #: {line}" for line in textwrap.wrap(description, WIDTH - 7)]
        lines.append(f"    {prop}: {ann}")
    return lines


def union_alias(name: str, members: list[str]) -> list[str]:
    line = f"{name} = Union[{', '.join(members)}]"
    if len(line) <= WIDTH:
        return [line]
    return [f"{name} = Union["] + [f"    {member}," for member in members] + ["]"]


def definition_lines(schema: Schema, name: str) -> list[list[str]]:
    """The aliases and `TypedDict`s of one definition, each a block."""
    definition = schema.defs[name]
    kind = schema.kind(name)
    doc = python_doc(definition.get("description", name))
    if kind == "enum":
        return [literal_alias(schema, name)]
    if kind == "object":
        suffix = f" Returned by ``{name}.to_dict()``." if name in CLASSES else ""
        return [typed_dict(schema, name, dict_name(name), definition, doc + suffix)]
    if kind == "tagged":
        blocks = []
        names = []
        for variant in definition["oneOf"]:
            tag = next(prop for prop, sub in properties(variant) if "const" in sub)
            value = variant["properties"][tag]["const"]
            variant_name = f"{camel(value)}{dict_name(name)}"
            names.append(variant_name)
            variant_doc = python_doc(variant.get("description", f"``{tag}: {value}``"))
            blocks.append(typed_dict(schema, name, variant_name, variant, variant_doc))
        blocks.append([f"#: {line}" for line in textwrap.wrap(doc, WIDTH - 3)] + union_alias(dict_name(name), names))
        return blocks
    if kind == "union":
        members = [annotation(schema, schema.ty(m)) for m in definition["anyOf"]]
        return [[f"#: {line}" for line in textwrap.wrap(doc, WIDTH - 3)] + union_alias(dict_name(name), members)]
    return []


@dataclass
class Prop:
    """A read-only property of a generated class."""

    name: str
    ty: Ty
    doc: str
    #: Where its value is in the JSON object.
    path: tuple[str, ...]
    #: The class wrapping the value (or each list item), when it is one of CLASSES.
    wraps: str | None = None


def class_props(schema: Schema, name: str) -> list[Prop]:
    props = []
    for prop, sub in properties(schema.defs[name]):
        ty = field_ty(schema, name, prop, sub)
        target = ty.items[0] if ty.kind == "list" else ty
        wraps = target.name if target.kind == "ref" and target.name in CLASSES else None
        props.append(Prop(prop, ty, field_doc(name, prop, sub, ty), (prop,), wraps))
    return props


def shortcut(schema: Schema, owner: str, name: str, path: tuple[str, ...]) -> Prop:
    """A property reading the nested field at `path`, typed and documented like that field."""
    current = owner
    for key in path[:-1]:
        current = schema.ty(schema.defs[current]["properties"][key], current, key).name
    sub = schema.defs[current]["properties"][path[-1]]
    ty = schema.ty(sub, current, path[-1])
    where = path[0] + "".join(f'["{key}"]' for key in path[1:])
    return Prop(name, ty, field_doc(current, path[-1], sub, ty).rstrip(".") + f" (``{where}``).", path)


def needs_copy(schema: Schema, ty: Ty) -> str:
    """How a property hands out a value: `` (immutable), `list` (shallow) or `_copy` (deep)."""

    def immutable(t: Ty) -> bool:
        return t.kind in ("prim", "literal") or (t.kind == "ref" and schema.kind(t.name) in ("enum", "alias"))

    if immutable(ty):
        return ""
    if ty.kind == "list" and immutable(ty.items[0]):
        return "list"
    return "_copy"


def class_lines(schema: Schema, name: str) -> list[str]:
    spec = CLASSES[name]
    definition = schema.defs[name]
    props = class_props(schema, name)
    wrapped = [p for p in props if p.wraps]
    doc = python_doc(definition.get("description", name))
    lines = ["@final", f"class {name}:"]
    lines += docstring(
        f"{doc} Immutable: attributes mirror the HTTP JSON fields and ``to_dict()`` returns the HTTP JSON "
        f"object. ``{name}(data)`` wraps such an object (typed ``{dict_name(name)}``) without copying it.",
        "    ",
    )
    slots = "".join(json.dumps(s) + ", " for s in ["_d"] + [f"_{p.name}" for p in wrapped]).rstrip()
    lines += ["", f"    __slots__ = ({slots})", '    __module__ = "loco"', "    __hash__ = None  # type: ignore[assignment]",
              f"    _d: {dict_name(name)}"]
    for p in wrapped:
        lines.append(f"    _{p.name}: {annotation(schema, p.ty, classes=True)}")
    lines += ["", f"    def __init__(self, data: {dict_name(name)}) -> None:", '        object.__setattr__(self, "_d", data)']
    for p in wrapped:
        value = f'data["{p.name}"]'
        if p.ty.kind == "list":
            built = f"[{p.wraps}(item) for item in {value}]"
        elif p.ty.nullable:
            lines.append(f"        value = {value}")
            built = f"None if value is None else {p.wraps}(value)"
        else:
            built = f"{p.wraps}({value})"
        lines.append(f'        object.__setattr__(self, "_{p.name}", {built})')

    def getter(prop: Prop, ann: str, body: str) -> None:
        lines.extend(["", "    @property", f"    def {prop.name}(self) -> {ann}:"])
        lines.extend(docstring(prop.doc, "        "))
        lines.append(f"        return {body}")

    for p in props + [shortcut(schema, name, n, path) for n, path in spec.shortcuts]:
        ann = annotation(schema, p.ty, classes=True)
        if p.wraps:
            body = f"list(self._{p.name})" if p.ty.kind == "list" else f"self._{p.name}"
            if p.ty.kind == "list":
                p.doc = p.doc.rstrip(".") + " (a new list each time, of the same objects)."
            getter(p, ann, body)
            continue
        if p.ty.nullable and len(p.path) == 1:
            # A field that may be null may also be missing from a record an older Loco wrote.
            access = f'self._d.get("{p.path[0]}")'
        else:
            access = "self._d" + "".join(f'["{key}"]' for key in p.path)
        how = needs_copy(schema, p.ty)
        if how == "list":
            body = f"list({access})" if not p.ty.nullable else f"None if {access} is None else list({access})"
        elif how == "_copy":
            body = f'cast("{ann}", _copy({access}))'
        else:
            body = access
        getter(p, ann, body)
    for prop_name, ann, expression, doc in spec.derived:
        getter(Prop(prop_name, Ty("any"), doc, ()), ann, expression)

    lines += ["", f"    def to_dict(self) -> {dict_name(name)}:"]
    lines += docstring(f"The {camel_words(name)} as the HTTP API's JSON object (a new copy each time).", "        ")
    lines.append(f'        return cast("{dict_name(name)}", _copy(self._d))')
    if spec.sequence:
        item = next(p for p in props if p.name == spec.sequence)
        lines += ["", "    def __len__(self) -> int:", f"        return len(self._{item.name})"]
        lines += ["", f"    def __iter__(self) -> Iterator[{item.wraps}]:", f"        return iter(self._{item.name})"]
    lines += [
        "",
        "    def __eq__(self, other: object) -> bool:",
        f"        if not isinstance(other, {name}):",
        "            return NotImplemented",
        "        return self._d == other._d",
        "",
        "    def __repr__(self) -> str:",
        "        d = self._d",
    ]
    labels = [f"{f}=%r" for f in spec.repr_fields] + [f"{label}=%r" for label, _ in spec.repr_extra]
    wrapped_names = {p.name for p in wrapped}
    values = [f"self._{f}" if f in wrapped_names else f'd["{f}"]' for f in spec.repr_fields]
    values += [expression for _, expression in spec.repr_extra]
    lines.append(f'        return "{name}({", ".join(labels)})" % (')
    lines += [f"            {value}," for value in values]
    lines.append("        )")
    lines += [
        "",
        "    def __reduce__(self) -> Tuple[Any, ...]:",
        f"        return ({name}, (self._d,))",
        "",
        "    if not TYPE_CHECKING:",
        "",
        "        def __setattr__(self, name: str, value: object) -> None:",
        '            raise AttributeError(f"{type(self).__name__} objects are immutable")',
        "",
        "        def __delattr__(self, name: str) -> None:",
        '            raise AttributeError(f"{type(self).__name__} objects are immutable")',
    ]
    return lines


def camel_words(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()


HEADER = '''\
"""The data model of the ``loco`` package, generated from ``schema/loco.schema.json`` (the JSON
Schema of the Rust types in loco-types) by ``scripts/codegen/python.py``: do not edit; run
``scripts/codegen/run``.

- ``Literal`` aliases of every status, kind and code;
- one ``TypedDict`` per JSON object: the ``to_dict()`` shapes, nested records, rollout plan and
  thresholds documents, event data;
- the immutable result classes the engine returns, each a read-only view of its HTTP JSON object.
"""

from __future__ import annotations

from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    Iterator,
    List,
    Literal,
    Optional,
    Tuple,
    TypedDict,
    Union,
    cast,
    final,
)

from ._loco import ACTIVE_ROLLOUT_STATES

{exports}


def _copy(value: Any) -> Any:
    """A deep copy of a JSON value (dicts and lists are copied, everything else is immutable)."""
    if type(value) is dict:
        return {key: _copy(item) for key, item in value.items()}
    if type(value) is list:
        return [_copy(item) for item in value]
    return value
'''


def public_names(source: str) -> list[str]:
    """The names `source` defines at module level: its aliases and classes."""
    names = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return names


def generate(document: dict[str, Any]) -> str:
    schema = Schema(document)
    roots = list(ROOTS[:5]) + list(CLASSES) + list(ROOTS[5:])
    ordered = schema.ordered(roots)
    enums = [n for n in ordered if schema.kind(n) == "enum"]
    blocks: list[list[str]] = []
    for name in enums:
        blocks.append(literal_alias(schema, name))
    for name in ordered:
        if schema.kind(name) != "enum":
            blocks.extend(definition_lines(schema, name))
    class_order = [n for n in ordered if n in CLASSES]
    for name in class_order:
        blocks.append(class_lines(schema, name))
    body = "\n\n\n".join("\n".join(block) for block in blocks if block)
    names = sorted(public_names(body))
    exports = "__all__: List[str] = [\n" + "".join(f'    "{n}",\n' for n in names) + "]"
    return HEADER.replace("{exports}", exports) + "\n\n" + body + "\n"


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: python.py SCHEMA OUT_ROOT")
    document = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    target = Path(sys.argv[2]) / OUTPUT
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(generate(document), encoding="utf-8")


if __name__ == "__main__":
    main()
