"""The public API: exactly what __all__ names, documented, homed in mvx_metrics."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import mvx_metrics


def test_the_package_exports_exactly_these_names() -> None:
    # The whole public surface of the package itself: a name added or removed is a
    # decision, made here as well as in __all__ (as httpx's test_exported_members does).
    assert mvx_metrics.__all__ == [
        "AsyncioMetricsRecorder",
        "Counter",
        "Distribution",
        "Gauge",
        "Histogram",
        "Metric",
        "MetricErrorPolicy",
        "MetricEvent",
        "MetricFamily",
        "MetricValueError",
        "MetricsError",
        "MetricsMetricError",
        "MetricsRecorder",
        "MetricsRecorderCancelledError",
        "MetricsRecorderDeadlockError",
        "MetricsRecorderError",
        "MetricsRecorderInvalidStateError",
        "MetricsRecorderLoopUnavailableError",
        "MetricsRecorderMetricFailedError",
        "MetricsRecorderOnStartingHookFailedError",
        "MetricsRecorderOnStoppedHookFailedError",
        "MetricsRecorderOverflowError",
        "MetricsRecorderProto",
        "MetricsRecorderTimeoutError",
        "MetricsRecorderUnexpectedError",
        "MetricsRuntime",
        "MetricsRuntimeDeadlockError",
        "MetricsRuntimeError",
        "MetricsRuntimeInvalidStateError",
        "MetricsRuntimeRecorderAlreadyExistsError",
        "MetricsRuntimeRecorderError",
        "MetricsRuntimeRecorderNotFoundError",
        "MetricsRuntimeRecorderStartupError",
        "MetricsRuntimeRecorderStopError",
        "MetricsRuntimeShutdownError",
        "MetricsRuntimeStartupError",
        "MetricsRuntimeTimeoutError",
        "MetricsRuntimeUnexpectedError",
        "OpResult",
        "Operation",
        "OverflowPolicy",
        "ProcessingDelay",
        "QuantileSketch",
        "RecorderState",
        "RecorderStats",
        "RuntimeState",
        "Sample",
        "UpDownCounter",
        "WaitHandle",
        "families_from_snapshots",
    ]


def test_all_names_are_importable_and_sorted() -> None:
    assert sorted(mvx_metrics.__all__) == mvx_metrics.__all__
    for name in mvx_metrics.__all__:
        assert hasattr(mvx_metrics, name), name


def test_public_objects_are_documented_and_report_the_package_as_home() -> None:
    for name in mvx_metrics.__all__:
        obj = getattr(mvx_metrics, name)
        assert obj.__module__ == "mvx_metrics", name
        assert inspect.getdoc(obj), f"{name} has no docstring"


def test_public_methods_have_docstrings() -> None:
    for cls in (
        mvx_metrics.MetricsRecorder,
        mvx_metrics.MetricsRuntime,
        mvx_metrics.WaitHandle,
        mvx_metrics.RecorderStats,
        mvx_metrics.Counter,
        mvx_metrics.UpDownCounter,
        mvx_metrics.Gauge,
        mvx_metrics.Histogram,
        mvx_metrics.Distribution,
        mvx_metrics.QuantileSketch,
    ):
        for attr, member in vars(cls).items():
            if attr.startswith("_") or not (callable(member) or isinstance(member, property)):
                continue
            assert inspect.getdoc(member), f"{cls.__name__}.{attr} has no docstring"


def test_the_recorder_satisfies_the_protocol_with_keyword_names() -> None:
    assert issubclass(mvx_metrics.MetricsRecorder, mvx_metrics.MetricsRecorderProto)
    for method, param in [("register_event", "event"), ("register_metric", "metric")]:
        signature = inspect.signature(getattr(mvx_metrics.MetricsRecorder, method))
        assert param in signature.parameters


def test_package_ships_type_information() -> None:
    from importlib.resources import files

    assert files("mvx_metrics").joinpath("py.typed").is_file()


def test_the_testing_toolkit_exports_documented_names() -> None:
    import mvx_metrics.testing as testing

    assert sorted(testing.__all__) == testing.__all__
    assert testing.__all__ == [
        "Capture",
        "CapturingRecorder",
        "MetricNotFoundError",
        "SeriesNotFoundError",
        "assert_value",
        "capture",
        "diff",
        "series",
        "value",
    ]
    for name in testing.__all__:
        assert inspect.getdoc(getattr(testing, name)), f"{name} has no docstring"


def test_the_strategies_export_documented_names() -> None:
    from mvx_metrics.testing import strategies

    assert strategies.__all__ == [
        "bucket_layouts",
        "builtin_metrics",
        "events",
        "label_values",
        "metric_values",
    ]
    for name in strategies.__all__:
        assert inspect.getdoc(getattr(strategies, name)), f"{name} has no docstring"


def test_the_exposition_checks_export_documented_names() -> None:
    from mvx_metrics.testing import exposition

    assert exposition.__all__ == [
        "SELF_METRIC_PREFIXES",
        "assert_exposition_equal",
        "assert_exposition_valid",
        "is_self_metric",
        "lint_exposition",
    ]
    for name in exposition.__all__:
        if callable(getattr(exposition, name)):
            assert inspect.getdoc(getattr(exposition, name)), f"{name} has no docstring"


def test_the_stateful_model_exports_documented_names() -> None:
    from mvx_metrics.testing import stateful

    assert stateful.__all__ == ["MetricsStateMachine"]
    assert inspect.getdoc(stateful.MetricsStateMachine)


def test_the_multiprocess_module_exports_documented_names() -> None:
    from mvx_metrics import multiprocess

    assert multiprocess.__all__ == [
        "GAUGE_MULTIPROCESS_MODES",
        "MultiprocessDirectory",
        "merge_snapshots",
    ]
    for name in multiprocess.__all__:
        assert inspect.getdoc(getattr(multiprocess, name)), f"{name} has no docstring"


#: The modules users import from: each is in the generated reference (docs/api.md). Every
#: other module is internal: its name (or its package's) starts with an underscore, or its
#: docstring says so with INTERNAL_MARK (see test_every_module_is_public_or_marked_internal).
PUBLIC_MODULES = [
    "mvx_metrics",
    "mvx_metrics.export",
    "mvx_metrics.export.asgi",
    "mvx_metrics.export.otlp",
    "mvx_metrics.export.prometheus_client_bridge",
    "mvx_metrics.export.otel_bridge",
    "mvx_metrics.testing",
    "mvx_metrics.testing.strategies",
    "mvx_metrics.testing.exposition",
    "mvx_metrics.testing.stateful",
    "mvx_metrics.multiprocess",
    "mvx_metrics.compat",
]


#: How the docstring of an internal module that is not underscored says what it is.
INTERNAL_MARK = "Internal: not part of the public API"

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = ROOT / "mvx_metrics"


def _all_modules() -> dict[str, str | None]:
    """Every module of the package, by dotted name, with its docstring. Read from the
    source, not imported: some modules need optional dependencies, and importing one must
    not be what decides whether it is classified."""
    modules: dict[str, str | None] = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = ast.get_docstring(ast.parse(path.read_text()))
    return modules


def _underscored(module: str) -> bool:
    return any(part.startswith("_") for part in module.split("."))


def test_every_module_is_public_or_marked_internal() -> None:
    # A new module must be classified: listed in PUBLIC_MODULES (and documented in
    # docs/api.md), underscored, or marked internal in its docstring.
    modules = _all_modules()
    assert set(PUBLIC_MODULES) <= set(modules)
    unclassified = [
        name
        for name, doc in modules.items()
        if name not in PUBLIC_MODULES
        and not _underscored(name)
        and INTERNAL_MARK not in (doc or "")
    ]
    assert unclassified == [], (
        f"add these to PUBLIC_MODULES or say {INTERNAL_MARK!r} in their docstrings"
    )


def test_public_modules_are_not_marked_internal() -> None:
    modules = _all_modules()
    marked = [name for name in PUBLIC_MODULES if INTERNAL_MARK in (modules[name] or "")]
    assert marked == []


def test_the_docs_name_every_internal_package() -> None:
    # The "Public API" section of docs/reference.md maps the package for newcomers:
    # every internal package that is not underscored appears there by name.
    page = (ROOT / "docs" / "reference.md").read_text()
    section = page.split("## Public API and internal packages", 1)[1].split("\n## ", 1)[0]
    packages = {
        name
        for name in _all_modules()
        if (ROOT / name.replace(".", "/") / "__init__.py").is_file()
        and name not in PUBLIC_MODULES
        and not _underscored(name)
    }
    missing = sorted(name for name in packages if f"`{name}`" not in section)
    assert missing == []


def test_the_generated_reference_covers_every_public_module() -> None:
    import importlib
    import re

    page = (ROOT / "docs" / "api.md").read_text()
    assert re.findall(r"^::: (\S+)$", page, re.M) == PUBLIC_MODULES
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        assert inspect.getdoc(module), f"{name} has no module docstring"
        assert module.__all__, f"{name} exports nothing"


@pytest.mark.parametrize(
    "method",
    [
        "MetricsRuntime.start",
        "MetricsRuntime.shutdown",
        "MetricsRuntime.create_recorder",
        "MetricsRuntime.stop_recorder",
        "MetricsRuntime.get_metric_snapshots",
        "MetricsRuntime.serve_http",
        "MetricsRecorder.get_metric_snapshots",
        "MetricsRecorder.flush",
        "WaitHandle.wait",
    ],
)
def test_every_blocking_call_documents_what_it_raises(method: str) -> None:
    import mvx_metrics

    owner, name = method.split(".")
    doc = inspect.getdoc(getattr(getattr(mvx_metrics, owner), name)) or ""
    assert "Raises:" in doc, f"{method} has no Raises: section"
