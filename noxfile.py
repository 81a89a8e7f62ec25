"""Every check the project runs: `nox -l` lists them."""

from __future__ import annotations

import glob
import shutil

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

BACKENDS = ["asyncio", "uvloop", "trio"]
#: The Pythons the classifiers name; with pyenv, `pyenv global 3.11 3.12 3.13` puts all
#: three on PATH.
PYTHONS = ["3.11", "3.12", "3.13"]


@nox.session(python=PYTHONS)
@nox.parametrize("backend", BACKENDS)
def tests(session: nox.Session, backend: str) -> None:
    """The test suite; async tests restricted to one backend (asyncio, uvloop or trio)."""
    session.install("-e", ".[test]")
    # Sync tests do not depend on the backend: run them once, with asyncio.
    selection = ["-k", backend] if backend != "asyncio" else ["-k", "not uvloop and not trio"]
    session.run("pytest", *selection, *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("-e", ".[test]", "mypy")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site (mkdocs, strict)."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict")


@nox.session
def package(session: nox.Session) -> None:
    """Build the wheel and sdist, check them with twine, and run the demo from the wheel."""
    session.install("build>=1.2", "twine>=5.1")
    tmp = session.create_tmp()
    session.run("python", "-m", "build", "--outdir", f"{tmp}/dist", ".")
    built = sorted(glob.glob(f"{tmp}/dist/*"))
    session.run("python", "-m", "twine", "check", "--strict", *built)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against prometheus_client, the OpenTelemetry SDK and mvx-common 0.3."""
    if shutil.which("valgrind") is None:
        # bench_instructions.py counts instructions with callgrind (Debian's package).
        session.run("apt-get", "update", external=True)
        session.run("apt-get", "install", "-y", "valgrind", external=True)
    session.install("-e", ".[bench]")
    session.run("python", "benchmarks/run_all.py", *session.posargs)
