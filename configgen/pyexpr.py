"""Python expressions for generated code, laid out the way ``ruff format`` lays them out.

Templates place values through `format_assignment` and `format_expr`: an expression goes
on one line when it fits in 88 columns; otherwise its brackets are opened one element per
line with a trailing comma (the "magic trailing comma" that keeps ruff from joining them
again). The result is stable under ``ruff format``.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
from collections.abc import Sequence

LINE_LENGTH = 88
INDENT = "    "


@dataclasses.dataclass(frozen=True)
class Atom:
    text: str


@dataclasses.dataclass(frozen=True)
class Prefixed:
    """``prefix`` + an expression: a keyword argument, ``lambda: ...``."""

    prefix: str
    expr: Expr


@dataclasses.dataclass(frozen=True)
class Bracketed:
    """A call, tuple or dict: an opener, elements, a closer."""

    opener: str  # "name(", "(", "{"
    closer: str
    elements: tuple[Expr, ...]
    is_tuple: bool = False


Expr = Atom | Prefixed | Bracketed


def call(func: str, *args: Expr, **kwargs: Expr) -> Bracketed:
    elements = list(args) + [Prefixed(f"{name}=", value) for name, value in kwargs.items()]
    return Bracketed(f"{func}(", ")", tuple(elements))


def tuple_of(items: Sequence[Expr]) -> Bracketed:
    return Bracketed("(", ")", tuple(items), is_tuple=True)


def dict_of(items: Sequence[tuple[Expr, Expr]]) -> Bracketed:
    return Bracketed("{", "}", tuple(Prefixed(flat(key) + ": ", value) for key, value in items))


def flat(expr: Expr) -> str:
    """The expression on one line."""
    if isinstance(expr, Atom):
        return expr.text
    if isinstance(expr, Prefixed):
        return expr.prefix + flat(expr.expr)
    inner = ", ".join(flat(element) for element in expr.elements)
    if expr.is_tuple and len(expr.elements) == 1:
        inner += ","
    return expr.opener + inner + expr.closer


def _lines(expr: Expr, indent: str, head: str, tail: str) -> list[str]:
    one_line = head + flat(expr) + tail
    if len(one_line) <= LINE_LENGTH or isinstance(expr, Atom):
        return [one_line]
    if isinstance(expr, Prefixed):
        return _lines(expr.expr, indent, head + expr.prefix, tail)
    if not expr.elements:
        return [one_line]
    inner = indent + INDENT
    lines = [head + expr.opener]
    for element in expr.elements:
        lines.extend(_lines(element, inner, inner, ","))
    lines.append(indent + expr.closer + tail)
    return lines


def format_expr(expr: Expr, indent: str = "", head: str = "", tail: str = "") -> str:
    """Lay out *expr* after *head* (which already holds the indentation) and before *tail*."""
    return "\n".join(
        _lines(expr, indent, indent + head if not head.startswith(indent) else head, tail)
    )


def format_assignment(target: str, expr: Expr, indent: str = "") -> str:
    """``target = expr`` as ruff formats it, parenthesising a lone long atom if that fits."""
    head = f"{indent}{target} = "
    one_line = head + flat(expr)
    if len(one_line) <= LINE_LENGTH:
        return one_line
    if isinstance(expr, Atom):
        inner = indent + INDENT
        if len(inner + expr.text) <= LINE_LENGTH:
            return f"{head}(\n{inner}{expr.text}\n{indent})"
        return one_line
    return "\n".join(_lines(expr, indent, head, ""))


# -- values -----------------------------------------------------------------------------


def string(value: str) -> str:
    """A str literal in ruff's preferred quotes, with every escape ruff keeps as it is."""
    quote = "'" if value.count('"') > value.count("'") else '"'
    out: list[str] = []
    for char in value:
        if char == "\\":
            out.append("\\\\")
        elif char == quote:
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif not char.isprintable():
            code = ord(char)
            if code <= 0xFF:
                out.append(f"\\x{code:02x}")
            elif code <= 0xFFFF:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
        else:
            out.append(char)
    return quote + "".join(out) + quote


def scalar(value: object) -> Expr:
    """A scalar TOML value as an expression."""
    if isinstance(value, bool):
        return Atom("True" if value else "False")
    if isinstance(value, int):
        return Atom(str(value))
    if isinstance(value, float):
        if math.isnan(value):
            return Atom('float("nan")')
        if math.isinf(value):
            return Atom('float("inf")' if value > 0 else 'float("-inf")')
        return Atom(repr(value).replace("e+", "e"))  # 1e+308 -> 1e308, as ruff format writes it
    if isinstance(value, str):
        return Atom(string(value))
    if isinstance(value, datetime.datetime):
        parts = [value.year, value.month, value.day, value.hour, value.minute, value.second]
        return _clock("datetime.datetime", parts, value.microsecond, value.utcoffset())
    if isinstance(value, datetime.date):
        return call("datetime.date", *(Atom(str(n)) for n in (value.year, value.month, value.day)))
    if isinstance(value, datetime.time):
        parts = [value.hour, value.minute, value.second]
        return _clock("datetime.time", parts, value.microsecond, value.utcoffset())
    raise TypeError(f"not a TOML scalar: {value!r}")


def _clock(
    func: str, parts: list[int], microsecond: int, offset: datetime.timedelta | None
) -> Expr:
    """A datetime or time constructor call: constant, so fit for a dataclass default."""
    arguments = [Atom(str(n)) for n in parts + ([microsecond] if microsecond else [])]
    if offset is None:
        return call(func, *arguments)
    seconds = int(offset.total_seconds())
    if seconds == 0:
        delta = "0"
    elif seconds % 3600 == 0:
        delta = f"hours={seconds // 3600}"
    elif seconds % 60 == 0:
        delta = f"minutes={seconds // 60}"
    else:
        delta = f"seconds={seconds}"
    zone = Atom(f"datetime.timezone(datetime.timedelta({delta}))")
    return call(func, *arguments, tzinfo=zone)


def docstring(text: str, indent: str) -> str:
    """A triple-quoted docstring of *text*, kept stable under ruff's docstring formatting."""
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    text = "".join(
        char if char == "\n" or char.isprintable() else string(char)[1:-1] for char in text
    )
    lines = [line.rstrip() for line in text.split("\n")]
    if lines[0].startswith('"'):
        lines[0] = " " + lines[0]  # as ruff does, so that four quotes never meet
    if len(lines) == 1 and lines[0].endswith('"'):
        lines[0] += " "
    if len(lines) == 1:
        return f'{indent}"""{lines[0]}"""'
    body = "\n".join(f"{indent}{line}" if line else "" for line in lines[1:])
    return f'{indent}"""{lines[0]}\n{body}\n{indent}"""'
