"""Which value a flag gives a context, and why: the getters' rules, explained.

The generated getters and `explain` follow the same order (docs/flags.md, "Evaluation"):
expiry, then a stored value, then (bool flags) listed users, segments and the rollout,
then the default; a percent flag is a rollout of its stored (or default) percentage.
`tests/test_evaluation.py` checks `explain` against the generated module.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Literal, NamedTuple

from configgen import bucketing, values
from configgen.model import Flag, Segment, segment_value

Source = Literal["expired", "stored", "user", "segment", "rollout", "default"]


class Explanation(NamedTuple):
    """A flag's value for a context, where it came from, and why, in words."""

    value: values.Value
    source: Source
    reason: str


def segment_matches(segment: Segment, key: str | None, attributes: Mapping[str, object]) -> bool:
    """Whether a context is in *segment*: values compare by kind and value."""
    if segment.attribute is None:
        return key in segment.users
    return segment_value(attributes.get(segment.attribute)) in {
        segment_value(v) for v in segment.values
    }


def _rollout(
    flag: Flag, key: str | None, percentage: float, scheme: bucketing.Scheme
) -> tuple[bool, str]:
    if percentage >= 100:
        return True, f"the rollout is {percentage:g}%: everyone"
    if key is None:
        return False, f"no targeting key: in no rollout below 100% (this one is {percentage:g}%)"
    if percentage <= 0:
        return False, "the rollout is 0%: no one"
    bucket = bucketing.bucket_for(scheme, flag.key, key)
    if bucket is None:
        return False, (
            f"an empty targeting key has no bucket ({scheme}): "
            f"in no rollout below 100% (this one is {percentage:g}%)"
        )
    limit = round(percentage * 1000)
    verdict = "below" if bucket < limit else "not below"
    return bucket < limit, (
        f"bucket {bucket:,} of 100,000 is {verdict} {limit:,} (a {percentage:g}% rollout)"
    )


def explain(
    flag: Flag,
    segments: Mapping[str, Segment],
    stored: object,
    targeting_key: str | None = None,
    attributes: Mapping[str, object] | None = None,
    *,
    today: datetime.date | None = None,
    has_context: bool = True,
    scheme: bucketing.Scheme = bucketing.DEFAULT_SCHEME,
) -> Explanation:
    """What *flag* gives the context (*targeting_key*, *attributes*) with *stored* (the
    raw stored value, None for none), and why. *has_context* False is a getter called
    without a context (``flags.x()``); *scheme* is the rollout bucketing scheme."""
    attributes = attributes or {}
    today = today or datetime.datetime.now(datetime.timezone.utc).date()
    key = targeting_key if has_context else None
    valid, problem = None, ""
    if stored is not None:
        try:
            valid = values.from_stored(flag, stored)
        except ValueError as exc:
            problem = f"the stored {stored!r} is not valid ({exc}), so it is ignored; "
    if flag.expires is not None and today > flag.expires:
        expired = f"expired on {flag.expires.isoformat()}"
        if flag.kind == "percent":
            member, why = _rollout(flag, key, float(flag.default), scheme)
            return Explanation(member, "expired", f"{expired}: its default rollout; {why}")
        return Explanation(flag.default, "expired", f"{expired}: the default")
    if flag.kind == "percent":
        percentage = float(valid) if valid is not None else float(flag.default)
        member, why = _rollout(flag, key, percentage, scheme)
        origin = "the stored" if valid is not None else problem + "the default"
        return Explanation(
            member,
            "stored" if valid is not None else "rollout",
            f"{origin} percentage {percentage:g}: {why}",
        )
    if valid is not None:
        return Explanation(valid, "stored", "the stored value, served to everyone")
    if flag.targeted:
        return _targeted(flag, segments, key, attributes, has_context, problem, scheme)
    return Explanation(flag.default, "default", problem + "no stored value: the default")


def _targeted(
    flag: Flag,
    segments: Mapping[str, Segment],
    key: str | None,
    attributes: Mapping[str, object],
    has_context: bool,
    problem: str,
    scheme: bucketing.Scheme,
) -> Explanation:
    if has_context:
        if key is not None and key in flag.users:
            return Explanation(True, "user", f"{problem}the targeting key {key!r} is in users")
        for name in flag.segments:
            segment = segments[name]
            if segment_matches(segment, key, attributes):
                how = (
                    f"the targeting key {key!r} is one of its users"
                    if segment.attribute is None
                    else f"{segment.attribute} = {attributes.get(segment.attribute)!r}"
                )
                return Explanation(True, "segment", f"{problem}in segment {name!r} ({how})")
    if flag.rollout is not None:
        member, why = _rollout(flag, key, flag.rollout, scheme)
        if member:
            return Explanation(True, "rollout", problem + why)
        return Explanation(flag.default, "default", f"{problem}not targeted ({why}): the default")
    return Explanation(flag.default, "default", f"{problem}not targeted: the default")
