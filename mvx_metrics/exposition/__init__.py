"""Pure exposition: snapshot values to Prometheus text, OpenMetrics or protobuf.

Internal: not part of the public API; import public names from
:mod:`mvx_metrics.export`, which re-exports them.

Nothing here reads a recorder or a runtime, waits, or imports the runtime: these modules
turn the values they are given (snapshots, :class:`~mvx_metrics.snapshots.MetricFamily`,
:class:`~mvx_metrics.RecorderStats`) into bytes or text, and choose a format from an
Accept header. :mod:`mvx_metrics.export` reads recorders and runtimes and serves the
results (HTTP, ASGI, OTLP, the bridges); its public names include this package's.

- :mod:`.prometheus_text`: the text formats 0.0.4 and OpenMetrics 1.0, and the grouping
  and checks every Prometheus format shares (:func:`.prometheus_text.group_families`);
- :mod:`.prometheus_protobuf`: the delimited protobuf format, with native histograms;
- :mod:`.negotiation`: Accept header to format;
- :mod:`.problems`: what an exposition repaired or left out, itself exported;
- :mod:`.recorder_stats`: a recorder's stats as families.
"""
