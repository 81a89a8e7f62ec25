"""Command line (``python -m mvx_metrics`` or ``mvx-metrics``):

- ``demo [--seconds S] [--threads T]``: the runtime-managed default at work;
- ``serve --multiprocess-dir DIR [--host H] [--port P]``: ``GET /metrics`` with the merge
  of every process publishing to DIR (see :mod:`mvx_metrics.multiprocess`).
"""

from __future__ import annotations

import argparse
import sys


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mvx_metrics",
        description="mvx_metrics command line tools.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="emit events from threads and an asyncio task into a runtime-owned recorder",
        description=(
            "Run the DocumentStorage example from THREADS threads plus one asyncio task for "
            "SECONDS seconds, showing progress, then the final snapshots and RecorderStats."
        ),
    )
    demo.add_argument(
        "--seconds", type=_positive_float, default=3.0, help="how long to run (default: 3)"
    )
    demo.add_argument(
        "--threads", type=_non_negative_int, default=4, help="producer threads (default: 4)"
    )
    serve = commands.add_parser(
        "serve",
        help="serve the merged metrics of the processes publishing to a directory",
        description=(
            "Serve GET /metrics with the merge of every process that publishes to DIR "
            "(MetricsRuntime(multiprocess_dir=DIR)), until interrupted."
        ),
    )
    serve.add_argument("--multiprocess-dir", required=True, metavar="DIR")
    serve.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")
    serve.add_argument("--port", type=_non_negative_int, default=9464, help="(default: 9464)")
    return parser


def _serve(directory: str, host: str, port: int) -> int:
    import signal
    import threading

    from . import MetricsRuntime

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    # No recorders of its own, and not the group's process: its file is empty.
    with MetricsRuntime(
        namespace="mvx-metrics-serve", multiprocess_dir=directory, process_metrics=False
    ) as runtime:
        bound_host, bound_port = runtime.serve_http(host=host, port=port)
        print(f"serving {directory} on http://{bound_host}:{bound_port}/metrics", flush=True)
        stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 2 usage error)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2): argparse printed why
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "demo":
        from ._demo import run_demo

        return run_demo(args.seconds, args.threads, sys.stdout)
    if args.command == "serve":
        return _serve(args.multiprocess_dir, args.host, args.port)
    parser.print_usage(sys.stderr)  # pragma: no cover - argparse rejects unknown commands
    return 2


if __name__ == "__main__":
    sys.exit(main())
