"""Starting Prefect for a command: the temporary API server, given time on a loaded machine.

Prefect starts its ephemeral API server lazily, when a flow first asks for a client, and gives
it 20 s to answer. A 2-core machine busy with another job can take longer than that just to
import the server, and the run then dies with a traceback before it reads a file. Commands that
run a flow start the server here first, with `prefect_startup_timeout_seconds`, try once more
when it does not answer, and fail in one line when it still does not; the flow then finds the
server running and uses it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from compliance.settings import StartupSettings, default_of, description_of

STARTUP_ATTEMPTS = 2
# EX_TEMPFAIL (sysexits.h): nothing was wrong with the request; try again later.
EXIT_NOT_STARTED = 75

STARTUP_TIMEOUT_DEFAULT = float(str(default_of(StartupSettings,
                                               "prefect_startup_timeout_seconds")))
StartupTimeout = Annotated[float, typer.Option(
    help=description_of(StartupSettings, "prefect_startup_timeout_seconds"))]


class PrefectStartError(RuntimeError):
    """The temporary Prefect API server did not answer in time, on any attempt."""


def start_prefect(timeout_seconds: float, attempts: int = STARTUP_ATTEMPTS) -> str | None:
    """Start the temporary Prefect API server now; return its URL, or None when none is needed.

    None when PREFECT_API_URL names a server (or ephemeral mode is off: Prefect then says
    so itself). A server that did not answer in time is stopped before the next attempt, so a
    failed start leaves no process behind.
    """
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return None
    reason = ""
    for _ in range(attempts):
        server = SubprocessASGIServer()
        try:
            # Prefect counts only its 0.1 s sleeps towards the limit: the wait is at least this.
            server.start(timeout=timeout_seconds)  # type: ignore[arg-type]
            return server.api_url
        except Exception as exc:  # noqa: BLE001 - every start failure is retried, then reported
            # Prefect's message can carry the server's whole output: keep its first line.
            reason = (str(exc).splitlines() or [type(exc).__name__])[0]
            server.stop()
    raise PrefectStartError(
        f"the temporary Prefect API server did not start within {timeout_seconds:g} s "
        f"({attempts} tries; {reason.rstrip('.')}). The machine may be busy: raise "
        "--prefect-startup-timeout-seconds, or set PREFECT_API_URL to a running Prefect server.")


def ensure_prefect(timeout_seconds: float) -> None:
    """Start Prefect for a command; when it cannot start, say so in one line and exit 75."""
    from pydantic import ValidationError

    try:
        StartupSettings(prefect_startup_timeout_seconds=timeout_seconds)
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        start_prefect(timeout_seconds)
    except PrefectStartError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_NOT_STARTED) from None
