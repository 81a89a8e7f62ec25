"""``mvx_metrics.compat``: mvx-common 0.3's public names, and its programs, on mvx_metrics.

The programs below are written against ``mvx.common.metrics``, as the seed documents them.
Each runs in its own interpreter twice: once as written (when mvx-common is installed) and
once with only its import line changed to ``mvx_metrics.compat``; both must exit 0 and
print the same thing.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import pickle
import subprocess
import sys
import types
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

import pytest

import mvx_metrics
from mvx_metrics import compat

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60

OLD_IMPORT = "from mvx.common.metrics import"
NEW_IMPORT = "from mvx_metrics.compat import"


def _mvx_common() -> types.ModuleType | None:
    try:
        return importlib.import_module("mvx.common.metrics")
    except ImportError:
        return None


MVX_COMMON = _mvx_common()
needs_mvx_common = pytest.mark.skipif(MVX_COMMON is None, reason="mvx-common is not installed")

#: mvx-common 0.3's ``__all__``, pinned so the checks run without it too.
MVX_COMMON_0_3_ALL = (
    "Metric",
    "MetricEvent",
    "MetricsRecorderProto",
    "AsyncioMetricsRecorderState",
    "AsyncioMetricsRecorderQueueOverflowPolicy",
    "AsyncioMetricsRecorderOp",
    "AsyncioMetricsRecorderOpResult",
    "AsyncioMetricsRecorderWaitHandle",
    "AsyncioMetricsRecorder",
    "AsyncioMetricsRecorderError",
    "AsyncioMetricsRecorderLoopUnavailableError",
    "AsyncioMetricsRecorderInvalidStateError",
    "AsyncioMetricsRecorderOnStartingHookFailedError",
    "AsyncioMetricsRecorderOnStoppedHookFailedError",
    "AsyncioMetricsRecorderQueueOverflowError",
    "AsyncioMetricsRecorderDispatcherCancelledError",
    "AsyncioMetricsRecorderUnexpectedError",
    "AsyncioMetricsRecorderLogPolicyMode",
    "asyncio_metrics_recorder_event_policy_config",
    "asyncio_metrics_recorder_event_policy",
    "MetricsRuntime",
    "MetricsRuntimeState",
    "MetricsRuntimeError",
    "MetricsRuntimeInvalidStateError",
    "MetricsRuntimeStartupError",
    "MetricsRuntimeShutdownError",
    "MetricsRuntimeLoopUnavailableError",
    "MetricsRuntimeRecorderError",
    "MetricsRuntimeRecorderStartupError",
    "MetricsRuntimeRecorderAlreadyExistsError",
    "MetricsRuntimeRecorderNotFoundError",
    "MetricsRuntimeRecorderStopError",
    "MetricsRuntimeUnexpectedError",
    "MetricsRuntimeLogPolicyMode",
    "metrics_runtime_event_policy_config",
    "metrics_runtime_event_policy",
)

#: Plain aliases: the compat name *is* the mvx_metrics object.
ALIASES: dict[str, Any] = {
    "Metric": mvx_metrics.Metric,
    "MetricEvent": mvx_metrics.MetricEvent,
    "MetricsRecorderProto": mvx_metrics.MetricsRecorderProto,
    "AsyncioMetricsRecorderState": mvx_metrics.RecorderState,
    "AsyncioMetricsRecorderQueueOverflowPolicy": mvx_metrics.OverflowPolicy,
    "AsyncioMetricsRecorderOp": mvx_metrics.Operation,
    "AsyncioMetricsRecorderOpResult": mvx_metrics.OpResult,
    "AsyncioMetricsRecorderWaitHandle": mvx_metrics.WaitHandle,
    "AsyncioMetricsRecorderError": mvx_metrics.MetricsRecorderError,
    "AsyncioMetricsRecorderLoopUnavailableError": mvx_metrics.MetricsRecorderLoopUnavailableError,
    "AsyncioMetricsRecorderInvalidStateError": mvx_metrics.MetricsRecorderInvalidStateError,
    "AsyncioMetricsRecorderOnStartingHookFailedError": (
        mvx_metrics.MetricsRecorderOnStartingHookFailedError
    ),
    "AsyncioMetricsRecorderOnStoppedHookFailedError": (
        mvx_metrics.MetricsRecorderOnStoppedHookFailedError
    ),
    "AsyncioMetricsRecorderQueueOverflowError": mvx_metrics.MetricsRecorderOverflowError,
    "AsyncioMetricsRecorderDispatcherCancelledError": mvx_metrics.MetricsRecorderCancelledError,
    "AsyncioMetricsRecorderUnexpectedError": mvx_metrics.MetricsRecorderUnexpectedError,
    "MetricsRuntimeState": mvx_metrics.RuntimeState,
    "MetricsRuntimeError": mvx_metrics.MetricsRuntimeError,
    "MetricsRuntimeInvalidStateError": mvx_metrics.MetricsRuntimeInvalidStateError,
    "MetricsRuntimeStartupError": mvx_metrics.MetricsRuntimeStartupError,
    "MetricsRuntimeShutdownError": mvx_metrics.MetricsRuntimeShutdownError,
    "MetricsRuntimeRecorderStartupError": mvx_metrics.MetricsRuntimeRecorderStartupError,
    "MetricsRuntimeRecorderAlreadyExistsError": mvx_metrics.MetricsRuntimeRecorderAlreadyExistsError,
    "MetricsRuntimeRecorderNotFoundError": mvx_metrics.MetricsRuntimeRecorderNotFoundError,
    "MetricsRuntimeRecorderStopError": mvx_metrics.MetricsRuntimeRecorderStopError,
    "MetricsRuntimeRecorderError": mvx_metrics.MetricsRuntimeRecorderError,
    "MetricsRuntimeUnexpectedError": mvx_metrics.MetricsRuntimeUnexpectedError,
}

#: Defined in compat.py as documented subclasses of an mvx_metrics class.
SUBCLASSES: dict[str, type] = {
    "AsyncioMetricsRecorder": mvx_metrics.AsyncioMetricsRecorder,
    "MetricsRuntime": mvx_metrics.MetricsRuntime,
    "MetricsRuntimeLoopUnavailableError": mvx_metrics.MetricsRuntimeError,
}

ENUMS = ("AsyncioMetricsRecorderLogPolicyMode", "MetricsRuntimeLogPolicyMode")

FUNCTIONS = (
    "asyncio_metrics_recorder_event_policy_config",
    "asyncio_metrics_recorder_event_policy",
    "metrics_runtime_event_policy_config",
    "metrics_runtime_event_policy",
)


# --- (a) the names ---------------------------------------------------------------------------


def test_all_is_mvx_common_0_3_all() -> None:
    assert len(compat.__all__) == len(set(compat.__all__))
    assert sorted(compat.__all__) == sorted(MVX_COMMON_0_3_ALL)
    for name in compat.__all__:
        assert hasattr(compat, name), name


@needs_mvx_common
def test_all_matches_the_installed_mvx_common() -> None:
    assert MVX_COMMON is not None
    assert sorted(compat.__all__) == sorted(MVX_COMMON.__all__)


# --- (b) every name is ours, or a documented subclass of ours ---------------------------------


def test_every_name_is_classified() -> None:
    classified = set(ALIASES) | set(SUBCLASSES) | set(ENUMS) | set(FUNCTIONS)
    assert classified == set(compat.__all__)
    assert len(classified) == len(ALIASES) + len(SUBCLASSES) + len(ENUMS) + len(FUNCTIONS)


@pytest.mark.parametrize("name", sorted(ALIASES))
def test_aliases_are_the_package_objects(name: str) -> None:
    assert getattr(compat, name) is ALIASES[name]


@pytest.mark.parametrize("name", sorted(SUBCLASSES))
def test_compat_classes_are_documented_subclasses(name: str) -> None:
    cls = getattr(compat, name)
    assert isinstance(cls, type)
    assert issubclass(cls, SUBCLASSES[name])
    assert cls is not SUBCLASSES[name]
    assert cls.__module__ == "mvx_metrics.compat"
    assert "mvx-common" in (inspect.getdoc(cls) or ""), "the docstring must say what differs"


@pytest.mark.parametrize("name", ENUMS)
def test_log_policy_modes_have_mvx_common_members(name: str) -> None:
    enum_cls = getattr(compat, name)
    assert issubclass(enum_cls, StrEnum)
    assert {m.name: m.value for m in enum_cls} == {
        "SILENT": "silent",
        "NORMAL": "normal",
        "INSPECTION": "inspection",
    }
    assert inspect.getdoc(enum_cls)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_policy_functions_are_documented_functions(name: str) -> None:
    fn = getattr(compat, name)
    assert inspect.isfunction(fn)
    assert fn.__module__ == "mvx_metrics.compat"
    assert "mode" in inspect.signature(fn).parameters
    assert inspect.getdoc(fn)


@needs_mvx_common
def test_enums_keep_every_mvx_common_member() -> None:
    assert MVX_COMMON is not None
    for name in compat.__all__:
        old = getattr(MVX_COMMON, name)
        if isinstance(old, type) and issubclass(old, Enum):
            new = getattr(compat, name)
            for member in old:
                assert new(member.value).name == member.name, (name, member)


@needs_mvx_common
def test_error_families_keep_mvx_common_subclass_relations() -> None:
    """Where mvx-common's A is a subclass of B, an ``except B`` catches what we raise as A."""
    assert MVX_COMMON is not None
    errors = [n for n in compat.__all__ if n.endswith("Error")]
    recorder_errors = {
        "MetricsRuntimeRecorderStartupError",
        "MetricsRuntimeRecorderAlreadyExistsError",
        "MetricsRuntimeRecorderNotFoundError",
        "MetricsRuntimeRecorderStopError",
    }
    for a in errors:
        for b in errors:
            if not issubclass(getattr(MVX_COMMON, a), getattr(MVX_COMMON, b)):
                continue
            if b == "MetricsRuntimeRecorderError" and a in recorder_errors:
                continue  # holds for what the compat runtime raises: tested below
            assert issubclass(getattr(compat, a), getattr(compat, b)), (a, b)


# --- the compat classes ----------------------------------------------------------------------


def test_runtime_keeps_log_context_and_creates_compat_recorders() -> None:
    marker, other = object(), object()
    runtime = compat.MetricsRuntime(namespace="compat.tests", log_context=marker)
    assert runtime.get_log_context() is marker
    assert runtime.entity_id == "compat.tests"
    runtime.start()
    try:
        inherited = runtime.create_recorder("a")
        own = runtime.create_recorder("b", log_context=other)
        assert isinstance(inherited, compat.AsyncioMetricsRecorder)
        assert inherited.get_log_context() is marker
        assert own.get_log_context() is other
        assert runtime.get_recorder("a") is inherited
    finally:
        runtime.shutdown()


def test_runtime_recorder_errors_are_also_metrics_runtime_recorder_errors() -> None:
    with compat.MetricsRuntime(namespace="compat.tests") as runtime:
        runtime.create_recorder("a")
        with pytest.raises(compat.MetricsRuntimeRecorderError) as info:
            runtime.get_recorder(" missing ")
        err = info.value
        assert isinstance(err, mvx_metrics.MetricsRuntimeRecorderNotFoundError)
        assert isinstance(err, LookupError)
        assert type(err).__name__ == "MetricsRuntimeRecorderNotFoundError"
        assert err.reason == "recorder_not_found"
        assert err.recorder_id == "missing"
        assert err.details == {"recorder_id": "missing"}

        with pytest.raises(compat.MetricsRuntimeRecorderAlreadyExistsError) as exists:
            runtime.create_recorder("a")
        assert isinstance(exists.value, compat.MetricsRuntimeRecorderError)
        assert exists.value.recorder_id == "a"

        for call in (runtime.stop_recorder, runtime.stop_and_remove_recorder):
            with pytest.raises(compat.MetricsRuntimeRecorderError) as stop_info:
                call("missing")
            assert isinstance(stop_info.value, mvx_metrics.MetricsRuntimeRecorderNotFoundError)

        restored = pickle.loads(pickle.dumps(err))
        assert type(restored) is type(err)
        assert (str(restored), restored.reason, restored.details) == (
            str(err),
            err.reason,
            err.details,
        )

        # Not a recorder error: passes through unchanged.
        with pytest.raises(TypeError):
            runtime.get_recorder(42)  # type: ignore[arg-type]


def test_loop_unavailable_error_is_a_runtime_error() -> None:
    err = compat.MetricsRuntimeLoopUnavailableError()
    assert isinstance(err, mvx_metrics.MetricsRuntimeError)
    assert err.reason == "loop_unavailable"


def test_direct_recorder_accepts_log_context() -> None:
    import asyncio

    async def main() -> object:
        recorder = compat.AsyncioMetricsRecorder("direct", log_context="ctx")
        assert isinstance(recorder, mvx_metrics.AsyncioMetricsRecorder)
        return recorder.get_log_context()

    assert asyncio.run(main()) == "ctx"


@pytest.mark.parametrize(
    ("config_fn", "mode_cls", "logger_name"),
    [
        (
            compat.asyncio_metrics_recorder_event_policy_config,
            compat.AsyncioMetricsRecorderLogPolicyMode,
            "mvx_metrics.recorder",
        ),
        (
            compat.metrics_runtime_event_policy_config,
            compat.MetricsRuntimeLogPolicyMode,
            "mvx_metrics.runtime",
        ),
    ],
)
def test_policy_configs_map_modes_to_logging_levels(
    config_fn: Any, mode_cls: Any, logger_name: str
) -> None:
    levels = {mode.name: config_fn(mode=mode).level for mode in mode_cls}
    assert levels == {
        "SILENT": logging.CRITICAL + 1,
        "NORMAL": logging.INFO,
        "INSPECTION": logging.DEBUG,
    }
    assert config_fn().level == logging.INFO  # NORMAL is the default, as in mvx-common
    assert config_fn().logger_name == logger_name
    with pytest.raises(TypeError):
        config_fn(mode="normal")


def test_the_two_mode_enums_are_not_interchangeable() -> None:
    with pytest.raises(TypeError):
        compat.metrics_runtime_event_policy_config(
            mode=compat.AsyncioMetricsRecorderLogPolicyMode.NORMAL  # type: ignore[arg-type]
        )


def test_policy_apply_and_filter() -> None:
    logger = logging.getLogger("mvx_metrics.recorder")
    saved = logger.level
    try:
        policy = compat.asyncio_metrics_recorder_event_policy(
            mode=compat.AsyncioMetricsRecorderLogPolicyMode.SILENT
        )
        assert logger.level == saved  # building a policy changes nothing
        policy.apply()
        assert not logger.isEnabledFor(logging.CRITICAL)
        compat.asyncio_metrics_recorder_event_policy(
            mode=compat.AsyncioMetricsRecorderLogPolicyMode.INSPECTION
        ).apply()
        assert logger.isEnabledFor(logging.DEBUG)
    finally:
        logger.setLevel(saved)

    def record(name: str, level: int) -> logging.LogRecord:
        return logging.LogRecord(name, level, __file__, 1, "msg", None, None)

    normal = compat.metrics_runtime_event_policy()
    assert normal.filter(record("mvx_metrics.runtime", logging.WARNING))
    assert not normal.filter(record("mvx_metrics.runtime", logging.DEBUG))
    assert not normal.filter(record("mvx_metrics.runtime.child", logging.DEBUG))
    assert normal.filter(record("somebody.else", logging.DEBUG))
    assert normal.filter(record("mvx_metrics.runtimeish", logging.DEBUG))


def _meta(namespace: str | None, name: str) -> Any:
    return types.SimpleNamespace(
        event_namespace=namespace,
        event_name=name,
        entity_id=None,
        source_path=None,
        source_line=None,
        source_func=None,
    )


_PROBE_EVENTS = [
    (None, "asyncio_metrics_recorder.start"),
    ("asyncio_metrics_recorder", "stop"),
    (None, "asyncio_metrics_recorder.get_metric_snapshots"),
    (None, "metrics_recorder.dispatch_error"),
    (None, "metrics_runtime.create_recorder"),
    ("metrics_runtime", "list_recorder_ids"),
    (None, "metrics_runtime.shutdown"),
    ("app", "something"),
]


def test_policy_is_event_enabled() -> None:
    modes = compat.AsyncioMetricsRecorderLogPolicyMode
    normal = compat.asyncio_metrics_recorder_event_policy(mode=modes.NORMAL)
    assert normal.is_event_enabled(_meta(None, "asyncio_metrics_recorder.start"))
    assert not normal.is_event_enabled(_meta(None, "asyncio_metrics_recorder.iter_metrics"))
    inspection = compat.asyncio_metrics_recorder_event_policy(mode=modes.INSPECTION)
    assert inspection.is_event_enabled(_meta("asyncio_metrics_recorder", "iter_metrics"))
    assert not inspection.is_event_enabled(object())


@needs_mvx_common
def test_policies_select_the_same_events_as_mvx_common() -> None:
    assert MVX_COMMON is not None
    pairs = [
        (
            "asyncio_metrics_recorder_event_policy",
            "AsyncioMetricsRecorderLogPolicyMode",
        ),
        ("metrics_runtime_event_policy", "MetricsRuntimeLogPolicyMode"),
    ]
    for fn_name, enum_name in pairs:
        for mode in getattr(compat, enum_name):
            old = getattr(MVX_COMMON, fn_name)(mode=getattr(MVX_COMMON, enum_name)(mode.value))
            new = getattr(compat, fn_name)(mode=mode)
            for namespace, name in _PROBE_EVENTS:
                meta = _meta(namespace, name)
                assert new.is_event_enabled(meta) == old.is_event_enabled(meta), (
                    fn_name,
                    mode,
                    name,
                )


@needs_mvx_common
def test_policy_is_accepted_by_an_mvx_common_log_context() -> None:
    models = importlib.import_module("mvx.common.logger.models")
    assert isinstance(compat.metrics_runtime_event_policy(), models.LogEventPolicyProto)


# --- (c) the seed's programs, with only the import changed -------------------------------------

DOCUMENT_STORAGE = '''
"""The seed's DocumentStorage example: a runtime, a recorder, a synchronous component."""
import asyncio
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mvx.common.metrics import Metric, MetricEvent, MetricsRecorderProto, MetricsRuntime


@dataclass(slots=True, frozen=True)
class DocumentSaveFinished(MetricEvent):
    document_id: str
    size: int
    success: bool

    @property
    def event_type(self) -> str:
        return "document_storage.save_finished"


class DocumentSaveMetric(Metric):
    """Counts saves by outcome and the bytes stored."""

    def __init__(self) -> None:
        self._saved = 0
        self._failed = 0
        self._bytes = 0

    @property
    def metric_name(self) -> str:
        return "document_storage.saves"

    def handle_event(self, event: MetricEvent) -> bool:
        if event.event_type != "document_storage.save_finished":
            return False
        assert isinstance(event, DocumentSaveFinished)
        if event.success:
            self._saved += 1
            self._bytes += event.size
        else:
            self._failed += 1
        return True

    def snapshot(self) -> Mapping[str, Any]:
        return {"saved": self._saved, "failed": self._failed, "bytes": self._bytes}


class DocumentStorage:
    """A production component: synchronous, knows only the recorder-facing contract."""

    def __init__(self, *, metrics_recorder: MetricsRecorderProto) -> None:
        self._metrics_recorder = metrics_recorder
        self._documents: dict[str, str] = {}

    def save_document(self, document_id: str, content: str) -> None:
        success = bool(content)
        if success:
            self._documents[document_id] = content
        self._send_metric_event(DocumentSaveFinished(document_id, len(content), success))

    async def asave_document(self, document_id: str, content: str) -> None:
        await asyncio.sleep(0)
        self.save_document(document_id, content)

    def _send_metric_event(self, event: MetricEvent) -> None:
        self._metrics_recorder.register_event(event=event)


def main() -> None:
    runtime = MetricsRuntime(namespace="example.metrics")
    runtime.start()
    try:
        recorder = runtime.create_recorder("document_storage")
        recorder.register_metric(DocumentSaveMetric())
        storage = DocumentStorage(metrics_recorder=recorder)

        for i in range(10):  # doc-0 is empty: a failed save
            storage.save_document(f"doc-{i}", "x" * i)

        def worker(n: int) -> None:
            for i in range(250):
                storage.save_document(f"t{n}-{i}", "abc" if i % 5 else "")

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        async def handle_requests() -> None:
            await asyncio.gather(*(storage.asave_document(f"a{i}", "hello") for i in range(20)))

        asyncio.run(handle_requests())

        print("recorders", list(runtime.list_recorder_ids()))
        print("recorder state", recorder.get_status())
        print("snapshots", json.dumps(recorder.get_metric_snapshots(), sort_keys=True))
        print("metrics", [m.metric_name for m in recorder.iter_metrics()])
    finally:
        runtime.shutdown()
    print("runtime state", runtime.get_status())


main()
'''

DOCUMENT_STORAGE_OUTPUT = [
    "recorders ['document_storage']",
    "recorder state RUNNING",
    # 9 + 4*200 + 20 saved; 1 + 4*50 failed; 45 + 4*200*3 + 20*5 bytes
    'snapshots {"document_storage.saves": {"bytes": 2545, "failed": 201, "saved": 829}}',
    "metrics ['document_storage.saves']",
    "runtime state CLOSED",
]

DIRECT_MODE = '''
"""Direct recorder usage: the application owns the loop and the recorder's lifecycle."""
import asyncio
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mvx.common.metrics import (
    AsyncioMetricsRecorder,
    AsyncioMetricsRecorderOp,
    AsyncioMetricsRecorderOpResult,
    AsyncioMetricsRecorderState,
    Metric,
    MetricEvent,
    MetricsRecorderProto,
)


@dataclass(slots=True)
class RequestServed(MetricEvent):
    route: str

    @property
    def event_type(self) -> str:
        return "request_served"


class RequestsByRoute(Metric):
    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self.threads: set[int] = set()

    @property
    def metric_name(self) -> str:
        return "requests_by_route"

    def handle_event(self, event: MetricEvent) -> bool:
        if not isinstance(event, RequestServed):
            return False
        self.threads.add(threading.get_ident())
        self._counts[event.route] = self._counts.get(event.route, 0) + 1
        return True

    def snapshot(self) -> Mapping[str, Any]:
        return dict(self._counts)


async def main() -> None:
    recorder = AsyncioMetricsRecorder("direct", queue_max_size=1000)
    metric = RequestsByRoute()
    recorder.register_metric(metric)
    print("is proto", isinstance(recorder, MetricsRecorderProto))
    print("state", recorder.get_status() is AsyncioMetricsRecorderState.VIRGIN)

    handle = recorder.start()
    result = await handle
    print("start", type(result) is AsyncioMetricsRecorderOpResult, result.success,
          result.op_name, result.op_name is AsyncioMetricsRecorderOp.START, result.error)
    print("state", recorder.get_status())

    for route in ("/", "/", "/report"):
        recorder.register_event(event=RequestServed(route))

    def produce() -> None:  # production code in another thread
        for _ in range(5):
            recorder.register_event(event=RequestServed("/thread"))

    await asyncio.to_thread(produce)

    result = await recorder.stop()
    print("stop", result.success, result.op_name, result.error)
    print("state", recorder.get_status() is AsyncioMetricsRecorderState.STOPPED)
    print("snapshots", json.dumps(recorder.get_metric_snapshots(), sort_keys=True))
    print("processed on the owning loop's thread", metric.threads == {threading.get_ident()})


asyncio.run(main())
'''

DIRECT_MODE_OUTPUT = [
    "is proto True",
    "state True",
    "start True True START True None",
    "state RUNNING",
    "stop True STOP None",
    "state True",
    'snapshots {"requests_by_route": {"/": 2, "/report": 1, "/thread": 5}}',
    "processed on the owning loop's thread True",
]

ERROR_HANDLING = '''
"""Error handling written against mvx-common's error names."""
import asyncio
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mvx.common.metrics import (
    AsyncioMetricsRecorder,
    AsyncioMetricsRecorderError,
    AsyncioMetricsRecorderInvalidStateError,
    AsyncioMetricsRecorderQueueOverflowError,
    AsyncioMetricsRecorderQueueOverflowPolicy,
    Metric,
    MetricEvent,
    MetricsRuntime,
    MetricsRuntimeError,
    MetricsRuntimeInvalidStateError,
    MetricsRuntimeRecorderAlreadyExistsError,
    MetricsRuntimeRecorderError,
    MetricsRuntimeRecorderNotFoundError,
)


@dataclass(slots=True)
class Tick(MetricEvent):
    block: bool = False

    @property
    def event_type(self) -> str:
        return "tick"


entered = threading.Event()
release = threading.Event()


class Ticks(Metric):
    """Counts ticks; a blocking tick holds the owning loop until released."""

    def __init__(self) -> None:
        self._n = 0

    @property
    def metric_name(self) -> str:
        return "ticks"

    def handle_event(self, event: MetricEvent) -> bool:
        assert isinstance(event, Tick)
        if event.block:
            entered.set()
            release.wait(10)
        self._n += 1
        return True

    def snapshot(self) -> Mapping[str, Any]:
        return {"n": self._n}


async def direct() -> None:
    # Invalid state after stop.
    recorder = AsyncioMetricsRecorder("stopped")
    await recorder.start()
    await recorder.stop()
    try:
        recorder.register_event(event=Tick())
    except AsyncioMetricsRecorderInvalidStateError as exc:
        print("direct: invalid state after stop", isinstance(exc, AsyncioMetricsRecorderError))

    # Overflow: RAISE_ERROR, a small queue, and the loop blocked (we do not yield to it).
    recorder = AsyncioMetricsRecorder(
        "small",
        queue_max_size=3,
        queue_overflow_policy=AsyncioMetricsRecorderQueueOverflowPolicy.RAISE_ERROR,
    )
    recorder.register_metric(Ticks())
    await recorder.start()
    overflows = 0
    for _ in range(5):
        try:
            recorder.register_event(event=Tick())
        except AsyncioMetricsRecorderQueueOverflowError as exc:
            overflows += isinstance(exc, AsyncioMetricsRecorderError)
    print("direct: overflows", overflows)
    await recorder.stop()
    print("direct: after stop", recorder.get_metric_snapshots())


asyncio.run(direct())

runtime = MetricsRuntime(namespace="errors")
runtime.start()
try:
    recorder = runtime.create_recorder(
        "gated",
        queue_max_size=3,
        queue_overflow_policy=AsyncioMetricsRecorderQueueOverflowPolicy.RAISE_ERROR,
    )
    recorder.register_metric(Ticks())
    recorder.register_event(event=Tick(block=True))
    print("runtime: loop blocked", entered.wait(10))
    overflows = 0
    for _ in range(5):
        try:
            recorder.register_event(event=Tick())
        except AsyncioMetricsRecorderQueueOverflowError:
            overflows += 1
    release.set()
    print("runtime: overflows", overflows)
    print("runtime: snapshots", recorder.get_metric_snapshots())

    try:
        runtime.create_recorder("gated")
    except MetricsRuntimeRecorderAlreadyExistsError as exc:
        print("runtime: already exists", isinstance(exc, MetricsRuntimeRecorderError), exc.recorder_id)
    try:
        runtime.get_recorder("missing")
    except MetricsRuntimeRecorderError as exc:
        print("runtime: not found", isinstance(exc, MetricsRuntimeRecorderNotFoundError), exc.recorder_id)

    runtime.stop_recorder("gated")
    try:
        recorder.register_event(event=Tick())
    except AsyncioMetricsRecorderInvalidStateError:
        print("runtime: invalid state after stop_recorder")
finally:
    runtime.shutdown()

for action in (runtime.start, lambda: runtime.create_recorder("late")):
    try:
        action()
    except MetricsRuntimeInvalidStateError as exc:
        print("runtime: invalid state after shutdown", isinstance(exc, MetricsRuntimeError))
'''

ERROR_HANDLING_OUTPUT = [
    "direct: invalid state after stop True",
    "direct: overflows 2",
    "direct: after stop {'ticks': {'n': 3}}",
    "runtime: loop blocked True",
    "runtime: overflows 3",
    "runtime: snapshots {'ticks': {'n': 3}}",
    "runtime: already exists True gated",
    "runtime: not found True missing",
    "runtime: invalid state after stop_recorder",
    "runtime: invalid state after shutdown True",
    "runtime: invalid state after shutdown True",
]

PROGRAMS = {
    "document_storage": (DOCUMENT_STORAGE, DOCUMENT_STORAGE_OUTPUT),
    "direct_mode": (DIRECT_MODE, DIRECT_MODE_OUTPUT),
    "error_handling": (ERROR_HANDLING, ERROR_HANDLING_OUTPUT),
}


def _with_compat_import(code: str) -> str:
    assert code.count(OLD_IMPORT) == 1, "a program imports mvx.common.metrics exactly once"
    migrated = code.replace(OLD_IMPORT, NEW_IMPORT)
    assert "mvx.common" not in migrated
    return migrated


def _run(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    report = f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    assert proc.returncode == 0, report
    for marker in ("Exception in thread", "Exception ignored", "Traceback"):
        assert marker not in proc.stderr, report
    return proc.stdout


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_runs_through_compat(name: str) -> None:
    code, expected = PROGRAMS[name]
    assert _run(_with_compat_import(code)).splitlines() == expected


@needs_mvx_common
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_prints_the_same_on_mvx_common_and_compat(name: str) -> None:
    code, _ = PROGRAMS[name]
    assert _run(code) == _run(_with_compat_import(code))
