"""flags.toml as a flagd flag-definition document: what ``configgen flags export --format
flagd`` writes.

Every flag becomes a flagd flag with typed variants and a ``defaultVariant``, and targeting
(JSONLogic) that gives what the generated getters give (docs/flagd.md): expiry first (a
``$flagd.timestamp`` comparison that returns the default variant), then a stored value
(it replaces the default variant; a stored percentage changes the split), then, for a bool
flag, listed users (``in`` on ``targetingKey``), segments and the rollout (``fractional``).
The tests load the document into flagd's reference evaluator and compare it with the
generated getters.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from typing import Any

from configgen import bucketing
from configgen.model import Flag, Segment
from configgen.values import Value

SCHEMA_URL = "https://flagd.dev/schema/v0/flags.json"
ON, OFF = "on", "off"
DEFAULT, STORED = "default", "stored"

JsonLogic = Any


def document(
    flags: Mapping[str, Flag],
    segments: Mapping[str, Segment],
    stored: Mapping[str, Value] | None = None,
    scheme: bucketing.Scheme = bucketing.DEFAULT_SCHEME,
) -> dict[str, Any]:
    """The flagd document for *flags*, with the valid *stored* values (typed, as
    `configgen.bulk.export_values` gives them) folded in."""
    stored = stored or {}
    return {
        "$schema": SCHEMA_URL,
        "flags": {
            key: _flag(flags[key], segments, stored.get(key), scheme) for key in sorted(flags)
        },
    }


def render(found: Mapping[str, Any]) -> str:
    """A document's JSON text."""
    return json.dumps(found, indent=2, ensure_ascii=False) + "\n"


def expiry_timestamp(expires: datetime.date) -> int:
    """The first second (Unix time, UTC) after the day *expires*: from then on a flag is
    expired, in the getters as in the export."""
    return (expires.toordinal() - datetime.date(1970, 1, 1).toordinal() + 1) * 86_400


def _flag(
    flag: Flag, segments: Mapping[str, Segment], stored: Value | None, scheme: bucketing.Scheme
) -> dict[str, Any]:
    expired: JsonLogic = None
    if flag.expires is not None:
        expired = {">=": [{"var": "$flagd.timestamp"}, expiry_timestamp(flag.expires)]}
    if flag.kind == "percent":
        return _percent(flag, stored, expired, scheme)
    variants: dict[str, Any]
    if flag.kind == "bool":
        variants = {ON: True, OFF: False}
        default = _bool_variant(flag.default)
        current = default if stored is None else _bool_variant(stored)
    elif flag.kind == "enum":
        variants = {value: value for value in flag.values}
        default = str(flag.default)
        current = default if stored is None else str(stored)
    else:
        variants = {DEFAULT: flag.default}
        default = current = DEFAULT
        if stored is not None:
            variants[STORED] = stored
            current = STORED
    rules: list[JsonLogic] = []
    if expired is not None:
        rules += [expired, default]
    if stored is None and flag.targeted:
        rules += _targeting(flag, segments, default, scheme)
    if len(rules) == 1 and isinstance(rules[0], str):  # the same variant for everyone
        current, rules = rules[0], []
    defined: dict[str, Any] = {"state": "ENABLED", "variants": variants, "defaultVariant": current}
    if rules:
        defined["targeting"] = {"if": rules} if len(rules) > 1 else rules[0]
    return defined


def _bool_variant(value: object) -> str:
    return ON if value is True else OFF


def _targeting(
    flag: Flag, segments: Mapping[str, Segment], default: str, scheme: bucketing.Scheme
) -> list[JsonLogic]:
    """``if`` arguments: each way in, "on"; then the rollout, else the default variant."""
    rules: list[JsonLogic] = []
    if flag.users:
        rules += [{"in": [{"var": "targetingKey"}, list(flag.users)]}, ON]
    for name in flag.segments:
        rules += [segment_rule(segments[name]), ON]
    rules.append(_rollout(flag.rollout or 0, default, scheme))
    return rules


_shown_bool = {True: ["true", "True"], False: ["false", "False"]}


def segment_rule(segment: Segment) -> JsonLogic:
    """JSONLogic that holds for a context in *segment*: its users, or an attribute whose
    value is one of the segment's, by kind and value (``true`` is not ``1``)."""
    if segment.attribute is None:
        return {"in": [{"var": "targetingKey"}, list(segment.users)]}
    value: JsonLogic = {"var": segment.attribute}
    # "cat" shows a bool as "true" (JavaScript, Go) or "True" (Python's json-logic), a
    # number as digits: with "in" on a list (where true == 1 == 1.0) it tells bools apart.
    shown: JsonLogic = {"cat": [value]}
    strings = [v for v in segment.values if isinstance(v, str)]
    bools = [v for v in segment.values if isinstance(v, bool)]
    numbers = [v for v in segment.values if not isinstance(v, (str, bool))]
    ways: list[JsonLogic] = []
    if strings:  # only a string equals a string
        ways.append({"in": [value, strings]})
    for flag_value in bools:  # equal to true (true, 1, 1.0) and shown as "true"
        ways.append(
            {"and": [{"in": [value, [flag_value]]}, {"in": [shown, _shown_bool[flag_value]]}]}
        )
    if numbers:  # equal to the number, and not a bool
        ways.append(
            {
                "and": [
                    {"in": [value, numbers]},
                    {"!": [{"in": [shown, [*_shown_bool[True], *_shown_bool[False]]]}]},
                ]
            }
        )
    if not ways:
        return False
    return ways[0] if len(ways) == 1 else {"or": ways}


def _rollout(percentage: float, below: str, scheme: bucketing.Scheme, on: str = ON) -> JsonLogic:
    """*on* for a key in a rollout of *percentage*, else *below*; a key with no bucket gets
    *below* too (flagd's ``fractional`` alone would give the flag's default variant)."""
    if percentage >= 100:
        return on
    limit = round(percentage * 1000)
    if percentage <= 0 or limit <= 0:
        return below
    split = {"fractional": [[on, limit], [below, bucketing.RESOLUTION - limit]]}
    has_bucket: JsonLogic = (
        {"!==": [{"var": "targetingKey"}, None]}
        if scheme == "flagd-v2"
        else {"var": "targetingKey"}  # flagd-v3: an empty key has no bucket
    )
    return {"if": [has_bucket, split, below]}


def _percent(
    flag: Flag, stored: Value | None, expired: JsonLogic, scheme: bucketing.Scheme
) -> dict[str, Any]:
    percentage = float(flag.default) if stored is None else float(stored)
    current = _rollout(percentage, OFF, scheme)
    if expired is not None:
        current = {"if": [expired, _rollout(float(flag.default), OFF, scheme), current]}
    defined: dict[str, Any] = {
        "state": "ENABLED",
        "variants": {ON: True, OFF: False},
        "defaultVariant": OFF,
    }
    if isinstance(current, str):
        defined["defaultVariant"] = current
    else:
        defined["targeting"] = current
    return defined
