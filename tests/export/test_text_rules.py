"""The pure rules of the exposition: escaping, numbers, names, errors, skipped snapshots."""

from __future__ import annotations

import logging
import math
import subprocess
import sys

import pytest
from prometheus_client.utils import floatToGoString

import mvx_metrics.export
from mvx_metrics import Counter, Distribution, Gauge, Histogram
from mvx_metrics.export import (
    ExpositionProblems,
    escape_help,
    escape_label_value,
    exposed_name,
    format_value,
    render_families,
    render_runtime_snapshots,
    render_snapshots,
    sanitize_label_name,
    sanitize_metric_name,
)
from mvx_metrics.exposition.prometheus_text import Block, origins
from mvx_metrics.snapshots import MetricFamily, Sample, families_from_snapshots

from ._support import Request, expected_rows, parsed_headers, parsed_rows, snapshots_of

FORMATS = [pytest.param(False, id="text-0.0.4"), pytest.param(True, id="openmetrics")]


def family(
    name: str,
    kind: str = "gauge",
    samples: tuple[Sample, ...] = (),
    *,
    description: str = "",
    unit: str = "",
) -> MetricFamily:
    return MetricFamily(name, kind, description, unit, samples)


def test_help_escapes_backslash_and_newline_and_the_quote_only_in_openmetrics() -> None:
    text = 'a\\b\nc "d"'
    assert escape_help(text) == 'a\\\\b\\nc "d"'
    assert escape_help(text, openmetrics=True) == 'a\\\\b\\nc \\"d\\"'


def test_label_values_escape_backslash_quote_and_newline() -> None:
    assert escape_label_value('\\"\n\t') == '\\\\\\"\\n\t'
    assert escape_label_value("plain /path") == "plain /path"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (math.nan, "NaN"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (2.0, "2.0"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (-4.5, "-4.5"),
        (1e6, "1e+06"),
        (999999.0, "999999.0"),
        (12345678.0, "1.2345678e+07"),
        (1e15, "1e+15"),
        (-1e6, "-1000000.0"),  # Go would write -1e+06; prometheus_client does not
        (1.5e-7, "1.5e-07"),
        (2.0**60, "1.152921504606847e+18"),
    ],
)
def test_values_are_written_as_prometheus_client_writes_them(value: float, text: str) -> None:
    assert format_value(value) == text == floatToGoString(value)  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    ("name", "metric", "label"),
    [
        ("http_requests", "http_requests", "http_requests"),
        ("http.requests", "http_requests", "http_requests"),
        ("cache-hits", "cache_hits", "cache_hits"),
        ("ns:rule", "ns:rule", "ns_rule"),  # ':' is valid in metric names only
        ("5xx_errors", "_5xx_errors", "_5xx_errors"),  # prefixed, so 4xx and 5xx stay apart
        ("a b/c", "a_b_c", "a_b_c"),
        ("température", "temp_rature", "temp_rature"),
        ("", "_", "_"),
    ],
)
def test_invalid_names_are_sanitised(name: str, metric: str, label: str) -> None:
    assert sanitize_metric_name(name) == metric
    assert sanitize_label_name(name) == label


def test_sanitised_names_are_used_for_families_and_labels() -> None:
    samples = (Sample("", (("http.route", "/"), ("1st", "x")), 1.0),)
    text = render_families([family("0.http-latency", "gauge", samples)])
    assert text == (
        "# HELP _0_http_latency \n"
        "# TYPE _0_http_latency gauge\n"
        '_0_http_latency{_1st="x",http_route="/"} 1.0\n'
    )


@pytest.mark.parametrize(
    ("name", "kind", "unit", "exposed"),
    [
        ("requests", "counter", "", "requests"),
        ("requests_total", "counter", "", "requests"),  # the sample adds _total back
        ("requests_total", "gauge", "", "requests_total"),  # only counters lose it
        ("response", "counter", "bytes", "response_bytes"),
        ("response_bytes", "histogram", "bytes", "response_bytes"),  # not repeated
        ("sent_total", "counter", "bytes", "sent_bytes"),
        ("speed", "gauge", "km/h", "speed_km_h"),
    ],
)
def test_exposed_names_drop_a_counters_total_and_carry_the_unit(
    name: str, kind: str, unit: str, exposed: str
) -> None:
    assert exposed_name(family(name, kind, unit=unit)) == exposed


def test_counter_metadata_names_differ_between_the_formats() -> None:
    counter = family("sent", "counter", (Sample("", (), 3.0),), description="d", unit="bytes")
    assert render_families([counter]) == (
        "# HELP sent_bytes_total d\n# TYPE sent_bytes_total counter\nsent_bytes_total 3.0\n"
    )
    assert render_families([counter], openmetrics=True) == (
        "# HELP sent_bytes d\n# TYPE sent_bytes counter\n# UNIT sent_bytes bytes\n"
        "sent_bytes_total 3.0\n# EOF\n"
    )


def test_labels_are_sorted_by_name_whatever_the_series_order() -> None:
    samples = (
        Sample("", (("zone", "b"), ("app", "x")), 1.0),
        Sample("", (("app", "y"), ("zone", "a")), 2.0),
    )
    assert render_families([family("g", "gauge", samples)]).splitlines()[2:] == [
        'g{app="x",zone="b"} 1.0',
        'g{app="y",zone="a"} 2.0',
    ]


@pytest.mark.parametrize("openmetrics", FORMATS)
def test_openmetrics_always_ends_with_eof_and_text_never_does(openmetrics: bool) -> None:
    for families in ([], [family("g", "gauge", (Sample("", (), 1.0),))]):
        text = render_families(families, openmetrics=openmetrics)
        assert text.endswith("# EOF\n") is openmetrics
        assert text.count("# EOF") == int(openmetrics)
    assert render_families([]) == ""


def test_a_family_without_samples_still_has_its_header() -> None:
    text = render_snapshots(snapshots_of([Counter("c", event=Request, labels=("route",))], []))
    assert text == "# HELP c_total \n# TYPE c_total counter\n"


def test_the_overflow_series_is_a_plain_series_and_overflow_events_is_not_exported() -> None:
    snapshots = snapshots_of(
        [Counter("views", event=Request, labels=("route",), max_series=1)],
        [Request("/"), Request("/a"), Request("/b"), Request("/")],
    )
    assert snapshots["views"]["overflow_events"] == 2
    assert render_snapshots(snapshots) == (
        "# HELP views_total \n"
        "# TYPE views_total counter\n"
        'views_total{route="/"} 2.0\n'
        'views_total{route="__overflow__"} 2.0\n'
    )


def test_snapshots_without_a_kind_are_counted_in_a_text_comment_only() -> None:
    snapshots = {
        "mine": {"value": 3},
        "odd": {"kind": "timer", "series": []},
        "not_a_mapping": 42,
        **snapshots_of([Gauge("g", event=Request, value="size")], []),
    }
    text = render_snapshots(snapshots)
    assert text.endswith("# mvx_metrics: skipped 3 snapshots without a built-in kind\n")
    assert parsed_rows(text, openmetrics=False) == [("g", (), "0.0")]  # scrapers ignore it
    om = render_snapshots(snapshots, openmetrics=True)
    assert "skipped" not in om
    assert parsed_rows(om, openmetrics=True) == [("g", (), "0.0")]
    assert render_snapshots({"mine": {}}) == (
        "# mvx_metrics: skipped 1 snapshot without a built-in kind\n"
    )
    assert "skipped" not in render_snapshots(snapshots_of([Counter("c", event=Request)], []))


def test_negative_observations_are_written_as_they_are() -> None:
    # OpenMetrics 1.0 forbids a negative _sum or quantile; Prometheus ingests them, and
    # dropping or clamping would hide data. Documented in the module.
    snapshots = snapshots_of(
        [Distribution("delta", event=Request, value="seconds", quantiles=(0.5,))],
        [Request(seconds=-2.0)],
    )
    assert 'delta{quantile="0.5"} -2.0' in render_snapshots(snapshots, openmetrics=True)


@pytest.mark.parametrize("openmetrics", FORMATS)
def test_the_parsers_read_back_every_sample_and_header(openmetrics: bool) -> None:
    snapshots = snapshots_of(
        [
            Counter("reqs_total", event=Request, labels=("route",), description='a "q"\n2'),
            Gauge("size", event=Request, value="size", unit="bytes", description="\\"),
            Histogram("lat", event=Request, value="seconds", buckets=(0.1, 1e6), unit="seconds"),
            Distribution("spread", event=Request, value="seconds", quantiles=(0, 0.5, 1)),
            Distribution("empty", event=Request, value="seconds", labels=("route",)),
        ],
        [Request("/", 0.05, 10), Request('/"x"\\\n', 3.0, 2_000_000)],
    )
    families = families_from_snapshots(snapshots)
    text = render_snapshots(snapshots, openmetrics=openmetrics)
    assert parsed_rows(text, openmetrics=openmetrics) == expected_rows(families)
    headers = parsed_headers(text, openmetrics=openmetrics)
    assert headers["reqs"][:2] == ("counter", 'a "q"\n2')
    assert headers["size_bytes"][:2] == ("gauge", "\\")
    assert headers["lat_seconds"][0] == "histogram"
    assert headers["spread"][0] == "summary"
    if openmetrics:
        assert headers["size_bytes"][2] == "bytes"
        assert headers["lat_seconds"][2] == "seconds"


def left_out(families: list[MetricFamily], problem: str) -> str:
    """Render ``families``; check that exactly one ``problem`` was counted and exported."""
    problems = ExpositionProblems()
    text = render_families(families, problems=problems)
    assert problems.counts() == {problem: 1}
    assert f'mvx_exposition_problems_total{{problem="{problem}"}} 1.0' in text
    return text


def test_two_metrics_exposed_under_one_name_leave_the_second_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="mvx_metrics.export")
    text = left_out([family("a_b", samples=(Sample("", (), 1.0),)), family("a.b")], "name_clash")
    assert "a_b 1.0\n" in text
    assert (
        any(
            "'a.b'" in r.getMessage() and "both exposed as 'a_b'" in r.getMessage()
            for r in caplog.records
        )
        or caplog.records == []
    )  # logged once per process: maybe by an earlier test


def test_a_metric_of_many_recorders_is_one_block_and_a_clash_with_it_is_left_out() -> None:
    """Recorders are checked against each other with a set (10,000 recorders made a scan of
    the block's origins quadratic, 10 s a scrape)."""
    saves = snapshots_of([Counter("saves", event=Request)], [Request()])
    snapshots = {f"r{i}": saves for i in range(50)}
    # A recorder whose gauge would be exposed as the others' counter.
    snapshots["odd"] = snapshots_of(
        [Gauge("saves_total", event=Request, value="seconds")], [Request()]
    )
    problems = ExpositionProblems()
    text = render_runtime_snapshots(snapshots, problems=problems)
    assert text.count("# TYPE saves_total counter\n") == 1
    assert all(f'saves_total{{recorder="r{i}"}} 1.0\n' in text for i in range(50))
    assert 'recorder="odd"' not in text
    assert problems.counts() == {"name_clash": 1}


def test_a_message_names_three_origins_of_a_block_and_counts_the_rest() -> None:
    block = Block("saves", "counter", "", "", [(f"r{i}", "saves") for i in range(50)])
    assert origins(block) == (
        "metric 'saves' of recorder 'r0' and metric 'saves' of recorder 'r1' and "
        "metric 'saves' of recorder 'r2' and 47 more"
    )
    block.origins[3:] = []
    assert origins(block).endswith("of recorder 'r2'")


@pytest.mark.parametrize(
    ("first", "second", "clash"),
    [
        (family("jobs", "counter"), family("jobs_total", "gauge"), "jobs_total"),
        (family("lat", "histogram"), family("lat_count", "gauge"), "lat_count"),
        (family("x_sum", "gauge"), family("x", "distribution"), "x_sum"),
        (family("up", "counter"), family("up_created", "gauge"), "up_created"),
    ],
)
def test_a_family_whose_sample_names_clash_is_left_out(
    first: MetricFamily, second: MetricFamily, clash: str
) -> None:
    second = family(second.name, second.kind, (Sample("", (), 7.0),))
    text = left_out([first, second], "name_clash")
    assert " 7.0\n" not in text  # the second family's sample
    assert f"# TYPE {exposed_name(first)}" in text


def test_label_names_equal_once_sanitised_leave_the_family_out() -> None:
    samples = (Sample("", (("a.b", "1"), ("a_b", "2")), 1.0),)
    text = left_out([family("g", "gauge", samples), family("h")], "label_clash")
    assert "# TYPE g " not in text and "# TYPE h gauge" in text


def test_an_unknown_kind_is_left_out() -> None:
    text = left_out([family("t", "timer"), family("h")], "unknown_kind")
    assert "# TYPE t " not in text and "# TYPE h gauge" in text


def test_a_repeated_series_is_left_out() -> None:
    samples = (Sample("", (("a", "1"),), 1.0), Sample("", (("a", "1"),), 2.0))
    text = left_out([family("g", "gauge", samples)], "duplicate_series")
    assert 'g{a="1"} 1.0\n' in text and 'g{a="1"} 2.0' not in text


def test_the_export_package_does_not_import_prometheus_client() -> None:
    code = "import sys, mvx_metrics.export; sys.exit('prometheus_client' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_the_export_package_names_what_it_exports() -> None:
    names = mvx_metrics.export.__all__
    assert len(set(names)) == len(names)  # the order is ruff's (RUF022)
    for name in mvx_metrics.export.__all__:
        assert getattr(mvx_metrics.export, name).__doc__ or name.isupper(), name
