"""Flag values in their three forms: typed by the flag, as operators type them, as stored.

`from_text` reads what an operator types (the command line, a form field), `from_json`
what an API client sends, `from_stored` what a store holds (text in etcd and Redis, a
TOML value in an overrides file), the way the generated getters read it. Each raises
`ValueError` with a message that names the flag and what was expected.
"""

from __future__ import annotations

import json
import math

from configgen.model import Flag

Value = bool | int | float | str

TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")
_INT64 = (-(2**63), 2**63 - 1)


def _expected(flag: Flag) -> str:
    if flag.kind == "enum":
        return f"one of {', '.join(flag.values)}"
    return {
        "bool": "true or false",
        "int": "a whole number",
        "float": "a number",
        "string": "a string",
        "percent": "a percentage from 0 to 100",
    }[flag.kind]


def _bad(flag: Flag, shown: str) -> ValueError:
    return ValueError(f"{flag.key} is {_kind_phrase(flag)}: {shown} is not {_expected(flag)}")


def _kind_phrase(flag: Flag) -> str:
    return f"an {flag.kind} flag" if flag.kind[:1] in "aeiou" else f"a {flag.kind} flag"


MAX_TEXT = 64 * 1024
"""Characters a string or enum value may have."""


def _written(flag: Flag, value: Value) -> Value:
    """A value an operator writes: text must be valid Unicode and at most `MAX_TEXT` long
    (stored values are read as the getters read them, whatever their length)."""
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise ValueError(
                f"{flag.key} is {_kind_phrase(flag)}: a value has at most {MAX_TEXT:,} "
                f"characters, this one {len(value):,}"
            )
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                f"{flag.key} is {_kind_phrase(flag)}: the value is not valid Unicode text "
                "(a lone surrogate)"
            ) from None
    return value


def _checked(flag: Flag, value: Value, shown: str) -> Value:
    """*value*, already of the flag's Python type, within its range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if flag.kind == "enum" and value not in flag.values:
            raise _bad(flag, shown)
        return value
    if isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
        raise ValueError(f"{flag.key} is {_kind_phrase(flag)}: {shown} is out of the 64-bit range")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{flag.key} is {_kind_phrase(flag)}: {shown} is not a finite number")
    if flag.kind == "percent" and not 0 <= value <= 100:
        raise _bad(flag, shown)
    return value


def from_text(flag: Flag, text: str) -> Value:
    """What an operator typed, as a value of *flag*."""
    return _written(flag, _from_text(flag, text))


def _from_text(flag: Flag, text: str) -> Value:
    shown = repr(text)
    kind = flag.kind
    if kind == "bool":
        word = text.strip().lower()
        if word in TRUE_WORDS + FALSE_WORDS:
            return word in TRUE_WORDS
        raise _bad(flag, shown)
    if kind == "int":
        try:
            number = int(text.strip())
        except ValueError:
            raise _bad(flag, shown) from None
        return _checked(flag, number, shown)
    if kind in ("float", "percent"):
        try:
            real = float(text.strip())
        except ValueError:
            raise _bad(flag, shown) from None
        return _checked(flag, real, shown)
    return _checked(flag, text, shown)


def from_json(flag: Flag, value: object) -> Value:
    """A value an API client sent as JSON: the JSON type must fit the flag's."""
    return _written(flag, _from_json(flag, value))


def _from_json(flag: Flag, value: object) -> Value:
    shown = _json_shown(value)
    kind = flag.kind
    if kind == "bool":
        if isinstance(value, bool):
            return value
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return _checked(flag, value, shown)
        if isinstance(value, float) and value.is_integer():
            return _checked(flag, int(value), shown)
    elif kind in ("float", "percent"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _checked(flag, float(value), shown)
    elif isinstance(value, str):
        return _checked(flag, value, shown)
    raise _bad(flag, shown)


def from_stored(flag: Flag, raw: object) -> Value:
    """A raw stored value as the generated getters read it; ValueError where they fall back."""
    shown = repr(raw)
    kind = flag.kind
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in TRUE_WORDS + FALSE_WORDS:
            return raw.strip().lower() in TRUE_WORDS
    elif kind == "int":
        if isinstance(raw, int) and not isinstance(raw, bool):
            return _checked(flag, raw, shown)
        if isinstance(raw, str) and raw.strip().lstrip("+-").isdigit():
            return _checked(flag, int(raw), shown)
    elif kind in ("float", "percent"):
        if isinstance(raw, (int, float, str)) and not isinstance(raw, bool):
            try:
                number = float(raw)
            except (ValueError, OverflowError):
                raise _bad(flag, shown) from None
            return _checked(flag, number, shown)
    elif isinstance(raw, str):
        return _checked(flag, raw, shown)
    raise _bad(flag, shown)


def _json_shown(value: object) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def to_text(value: Value) -> str:
    """How a value is shown and typed back: ``true``/``false``, numbers, strings as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


__all__ = ["Value", "from_json", "from_stored", "from_text", "to_text"]
