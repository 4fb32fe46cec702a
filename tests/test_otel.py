"""configgen.otel: evaluation metrics of a generated Flags and of ConfigGenProvider."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from openfeature.evaluation_context import EvaluationContext as OFContext
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from configgen.otel import instrument

DATA = Path(__file__).parent / "data"
Points = dict[str, dict[frozenset[tuple[str, Any]], int]]


@pytest.fixture
def ff(flags_package: Path) -> ModuleType:
    return importlib.import_module("ffapp.configgen_flags")


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def meter_provider(reader: InMemoryMetricReader) -> MeterProvider:
    return MeterProvider(metric_readers=[reader])


def _points(reader: InMemoryMetricReader) -> Points:
    found: Points = {}
    data = reader.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points = found.setdefault(metric.name, {})
                data_points: Any = metric.data.data_points
                for point in data_points:
                    points[frozenset(point.attributes.items())] = point.value
    return found


def _key(key: str, **more: str) -> frozenset[tuple[str, Any]]:
    return frozenset(
        {"feature_flag.key": key, "feature_flag.provider.name": "ConfigGen", **more}.items()
    )


def test_counts_per_flag_key(
    ff: ModuleType, reader: InMemoryMetricReader, meter_provider: MeterProvider
) -> None:
    flags = ff.Flags(ff.MemoryStore({"max_items": 7}))
    plain = ff.Flags(ff.MemoryStore({"max_items": 7}))
    instrument(flags, meter_provider)
    instrument(flags, meter_provider)  # a second time changes nothing
    for _ in range(3):
        assert flags.max_items() == plain.max_items() == 7
    assert flags.kill_switch() is True  # flags.toml spells it kill-switch
    assert flags.ui.layout.density() == plain.ui.layout.density() == "comfortable"
    assert flags.ui.layout.sidebar() is True
    assert flags.new_checkout(ff.EvaluationContext("alice")) is True
    assert flags.search.new_ranker() == plain.search.new_ranker()
    assert flags.max_items.__doc__ == plain.max_items.__doc__
    assert isinstance(flags, ff.Flags)

    points = _points(reader)
    requests = points["feature_flag.evaluation_requests_total"]
    assert requests == {
        _key("max_items"): 3,
        _key("kill_switch"): 1,
        _key("ui.layout.density"): 1,
        _key("ui.layout.sidebar"): 1,
        _key("new_checkout"): 1,
        _key("search.new_ranker"): 1,
    }
    assert points["feature_flag.evaluation_success_total"] == requests
    assert "feature_flag.evaluation_error_total" not in points or not any(
        points["feature_flag.evaluation_error_total"].values()
    )

    flags.max_items()
    assert _points(reader)["feature_flag.evaluation_requests_total"][_key("max_items")] == 4


def test_fallbacks_count_as_errors(
    ff: ModuleType, reader: InMemoryMetricReader, meter_provider: MeterProvider
) -> None:
    store = ff.MemoryStore({"max_items": "lots"})
    flags = ff.Flags(store)
    instrument(flags, meter_provider)
    assert flags.max_items() == 50
    assert flags.max_items() == 50
    assert flags.discount() == 0.15
    store.set("max_items", 9)  # the store reports the change: a refresh, no fallback now
    assert flags.max_items() == 9

    points = _points(reader)
    assert points["feature_flag.evaluation_requests_total"][_key("max_items")] == 3
    assert points["feature_flag.evaluation_success_total"][_key("max_items")] == 1
    errors = points["feature_flag.evaluation_error_total"]
    wrong = _key("max_items", **{"feature_flag.result.reason": "ERROR", "error.type": "wrong-type"})
    assert errors == {wrong: 2}
    assert flags.fallbacks()[("max_items", "wrong-type")] >= 1


def test_store_errors_count_as_errors(
    ff: ModuleType, reader: InMemoryMetricReader, meter_provider: MeterProvider
) -> None:
    class Broken:
        def get(self, key: str) -> object:
            raise OSError("down")

        def watch(self, callback: object) -> None:
            pass

    flags = ff.Flags(Broken())
    instrument(flags, meter_provider)
    assert flags.ui.theme() == "light"
    errors = _points(reader)["feature_flag.evaluation_error_total"]
    assert errors == {
        _key("ui.theme", **{"feature_flag.result.reason": "ERROR", "error.type": "store-error"}): 1
    }


def test_the_provider(
    ff: ModuleType, reader: InMemoryMetricReader, meter_provider: MeterProvider
) -> None:
    from configgen.openfeature import ConfigGenProvider

    store = ff.MemoryStore({"max_items": "lots"})
    provider = ConfigGenProvider(DATA / "everything_flags.toml", store)
    instrument(provider, meter_provider)
    assert provider.resolve_boolean_details("kill_switch", False).value is True
    assert provider.resolve_boolean_details("kill_switch", False).value is True
    assert provider.resolve_string_details("ui.theme", "?").value == "light"
    assert provider.resolve_integer_details("max_items", 0).error_code is not None
    assert provider.resolve_boolean_details("nope", False).error_code is not None

    points = _points(reader)
    assert points["feature_flag.evaluation_requests_total"] == {
        _key("kill_switch"): 2,
        _key("ui.theme"): 1,
        _key("max_items"): 1,
        _key("(unknown)"): 1,  # keys that are no flag share one series
    }
    default = {"feature_flag.result.reason": "DEFAULT"}
    assert points["feature_flag.evaluation_success_total"] == {
        _key("kill_switch", **default, **{"feature_flag.result.variant": "true"}): 2,
        _key("ui.theme", **default, **{"feature_flag.result.variant": "light"}): 1,
    }
    error = {"feature_flag.result.reason": "ERROR"}
    assert points["feature_flag.evaluation_error_total"] == {
        _key("max_items", **error, **{"error.type": "parse_error"}): 1,
        _key("(unknown)", **error, **{"error.type": "flag_not_found"}): 1,
    }


def test_provider_fallbacks_count_as_errors(
    ff: ModuleType, reader: InMemoryMetricReader, meter_provider: MeterProvider
) -> None:
    """A store that fails and a key that cannot be bucketed: the provider serves what the
    getters serve, and each counts once, as an error with its cause."""
    from configgen.openfeature import ConfigGenProvider

    class Broken:
        def get(self, key: str) -> object:
            raise OSError("down")

        def watch(self, callback: object) -> None:
            pass

    provider = ConfigGenProvider(DATA / "everything_flags.toml", Broken())
    instrument(provider, meter_provider)
    found = provider.resolve_boolean_details("kill_switch", False)
    assert found.value is True and found.error_code is None  # the flag's value, as getters give
    context = OFContext(5)  # type: ignore[arg-type]  # a key that is not a string
    found = provider.resolve_boolean_details("search.new_ranker", True, context)
    assert found.value is False and found.error_code is None
    getters = ff.Flags(Broken())  # type: ignore[arg-type]
    assert getters.kill_switch() is True
    assert getters.search.new_ranker(ff.EvaluationContext(5)) is False  # type: ignore[arg-type]
    points = _points(reader)
    assert points["feature_flag.evaluation_requests_total"] == {
        _key("kill_switch"): 1,
        _key("search.new_ranker"): 1,
    }
    errors = points["feature_flag.evaluation_error_total"]
    assert {dict(k)["error.type"]: v for k, v in errors.items()} == {
        "store-error": 1,
        "evaluation-error": 1,
    }


def test_evaluation_errors_count_as_errors(
    ff: ModuleType, reader: InMemoryMetricReader, meter_provider: MeterProvider
) -> None:
    flags = ff.Flags()
    instrument(flags, meter_provider)
    assert flags.search.new_ranker(ff.EvaluationContext(5)) is False  # not a string
    assert flags.fallbacks() == {("search.new_ranker", "evaluation-error"): 1}
    points = _points(reader)
    assert points["feature_flag.evaluation_requests_total"] == {_key("search.new_ranker"): 1}
    assert "feature_flag.evaluation_success_total" not in points  # no zero series
    error = {"feature_flag.result.reason": "ERROR", "error.type": "evaluation-error"}
    assert points["feature_flag.evaluation_error_total"] == {_key("search.new_ranker", **error): 1}
