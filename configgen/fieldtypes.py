"""Field types of config.toml: inferred from a value, or read from a ``type:`` hint."""

from __future__ import annotations

import datetime
import re
from typing import Any

from configgen.model import FieldType, ListOf, MapOf, Scalar, SectionRef

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_HINT = re.compile(r"\s*(list|dict)\s*\[(.*)\]\s*\Z")


def type_of(value: object) -> FieldType | str:
    """Infer the field type of a plain TOML value, or return why it has none."""
    if isinstance(value, bool):
        return Scalar("bool")
    if isinstance(value, int):
        return Scalar("int")
    if isinstance(value, float):
        return Scalar("float")
    if isinstance(value, str):
        return Scalar("str")
    if isinstance(value, datetime.datetime):
        return Scalar("datetime")
    if isinstance(value, datetime.date):
        return Scalar("date")
    if isinstance(value, datetime.time):
        return Scalar("time")
    if isinstance(value, list):
        return _array_type(value)
    if isinstance(value, dict):
        return "an inline table holds a section: write it as a [table], or mark it '# map'"
    return f"unsupported value of type {type(value).__name__}"


def _array_type(value: list[Any]) -> FieldType | str:
    if not value:
        return "an empty array has no element type: add a hint such as '# type: list[str]'"
    if any(isinstance(item, dict) for item in value):
        if not all(isinstance(item, dict) for item in value):
            return "an array that mixes tables and other values: every element must be a table"
        return (
            "an array of tables is supported as a key of a table, not inside another array "
            "or as the value of a '# map'"
        )
    types = [type_of(item) for item in value]
    for found in types:
        if isinstance(found, str):
            return found
    if any(found != types[0] for found in types):
        names = sorted({found.spelling for found in types if not isinstance(found, str)})
        return f"mixed-type array ({', '.join(names)}): every element must have the same type"
    first = types[0]
    assert not isinstance(first, str)
    return ListOf(first)


def parse_type_hint(text: str) -> FieldType | None:
    """Parse a ``type:`` directive: a scalar name, ``list[T]`` or ``dict[str, T]``."""
    text = text.strip()
    if text in ("str", "int", "float", "bool", "datetime", "date", "time"):
        return Scalar(text)
    match = _HINT.match(text)
    if match is None:
        return None
    outer, inner = match.groups()
    if outer == "list":
        item = parse_type_hint(inner)
        return ListOf(item) if item is not None and not isinstance(item, MapOf) else None
    key, _, value = inner.partition(",")
    if key.strip() != "str":
        return None
    item = parse_type_hint(value)
    return MapOf(item) if item is not None and not isinstance(item, MapOf) else None


def widens(declared: FieldType, found: FieldType) -> bool:
    """Whether a value of type *found* may stand for a field declared as *declared*."""
    if declared == found:
        return True
    if isinstance(declared, Scalar) and isinstance(found, Scalar):
        return declared.kind == "float" and found.kind == "int"
    if isinstance(declared, ListOf) and isinstance(found, ListOf):
        return widens(declared.item, found.item)
    if isinstance(declared, MapOf) and isinstance(found, MapOf):
        return widens(declared.value, found.value)
    return False


def coerce(declared: FieldType, value: Any) -> Any:
    """*value* as *declared* holds it (ints become floats); raises OverflowError if too big."""
    if isinstance(declared, Scalar) and declared.kind == "float" and not isinstance(value, bool):
        return float(value)
    if isinstance(declared, ListOf):
        return [coerce(declared.item, item) for item in value]
    if isinstance(declared, MapOf):
        return {key: coerce(declared.value, item) for key, item in value.items()}
    return value


def fits_int64(value: Any) -> bool:
    """Whether every integer in *value* fits the 64-bit range TOML allows."""
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return INT64_MIN <= value <= INT64_MAX
    if isinstance(value, list):
        return all(fits_int64(item) for item in value)
    if isinstance(value, dict):
        return all(fits_int64(item) for item in value.values())
    return True


def article(spelling: str) -> str:
    """``int`` -> ``an int``; ``list[str]`` -> ``a list[str]``."""
    return f"an {spelling}" if spelling[:1] in "aeiou" else f"a {spelling}"


def is_sized(field_type: FieldType) -> bool:
    """Whether ``min``/``max`` bound this type's length rather than its value."""
    return isinstance(field_type, (ListOf, MapOf)) or field_type == Scalar("str")


def is_section(field_type: FieldType) -> bool:
    """Whether values of this type are generated classes."""
    return isinstance(field_type, SectionRef)
