"""choose_format: OpenMetrics 1.0 when asked for, text 0.0.4 otherwise, as prometheus_client."""

from __future__ import annotations

from functools import partial

import pytest
from prometheus_client import exposition
from prometheus_client.openmetrics import exposition as om_exposition

from mvx_metrics.export import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, choose_format

TEXT = ("text", "text/plain; version=0.0.4; charset=utf-8")
OPENMETRICS = ("openmetrics", "application/openmetrics-text; version=1.0.0; charset=utf-8")

# What Prometheus servers send, by version and scrape_protocols.
PROMETHEUS_2 = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
PROMETHEUS_3 = (
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,"
    "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
)
PROMETHEUS_TEXT_ONLY = "text/plain;version=0.0.4;q=1,*/*;q=0.1"

# Headers on which we and prometheus_client's choose_encoder pick the same format.
SHARED_CASES = [
    (None, TEXT),
    ("", TEXT),
    ("*/*", TEXT),
    ("text/plain", TEXT),
    ("text/plain; version=0.0.4", TEXT),
    (PROMETHEUS_TEXT_ONLY, TEXT),
    ("application/json", TEXT),
    ("application/openmetrics-text", OPENMETRICS),
    ("application/openmetrics-text; version=1.0.0", OPENMETRICS),
    ("application/openmetrics-text; version=1.0.0; charset=utf-8", OPENMETRICS),
    ("text/plain;q=0.9, application/openmetrics-text;q=0.5", OPENMETRICS),  # first OM wins
    ("application/openmetrics-text;version=0.0.1", TEXT),  # the pre-1.0 draft
    ("application/openmetrics-text;version=0.0.1,application/openmetrics-text", OPENMETRICS),
    ("text/plain;version=1.0.0;escaping=allow-utf-8", TEXT),
    (PROMETHEUS_2, OPENMETRICS),
    (PROMETHEUS_3, OPENMETRICS),
]


@pytest.mark.parametrize(("accept", "expected"), SHARED_CASES)
def test_the_format_is_chosen_as_prometheus_client_chooses_it(
    accept: str | None, expected: tuple[str, str]
) -> None:
    assert choose_format(accept) == expected
    encoder, _ = exposition.choose_encoder(accept)  # type: ignore[arg-type]
    function = encoder.func if isinstance(encoder, partial) else encoder
    theirs = "openmetrics" if function is om_exposition.generate_latest else "text"
    assert theirs == expected[0]


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("application/openmetrics-text;version=1.0.0;q=0", TEXT),  # q=0: not acceptable
        ("application/openmetrics-text; q=0.0, */*", TEXT),
        ("application/openmetrics-text;q=oops", OPENMETRICS),  # a bad weight is ignored
        ("Application/OpenMetrics-Text; Version=1.0.0", OPENMETRICS),  # case-insensitive
        ('application/openmetrics-text; version="1.0.0"', OPENMETRICS),  # quoted value
        ("  application/openmetrics-text  ;  version=1.0.0  ", OPENMETRICS),
        ("application/openmetrics-text;version=2.0.0", TEXT),  # we write 1.0.0 only
        ("application/openmetrics-text;version=2.0.0,application/openmetrics-text", OPENMETRICS),
    ],
)
def test_weights_case_and_versions_we_do_not_write(accept: str, expected: tuple[str, str]) -> None:
    assert choose_format(accept) == expected


def test_the_content_types_are_prometheus_clients() -> None:
    assert TEXT_CONTENT_TYPE == exposition.CONTENT_TYPE_PLAIN_0_0_4
    assert OPENMETRICS_CONTENT_TYPE == om_exposition.CONTENT_TYPE_LATEST
