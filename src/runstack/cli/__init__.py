"""The ``runstack`` command line: experiments, runs, garbage collection, schema upgrades and
the tracking server and its web UI.

Every command takes ``--tracking-uri`` (else ``MLFLOW_TRACKING_URI``, else ``./runstack.db``).
Bad input prints one line, ``Error: ...``, and exits with status 1 (2 for usage errors):
never a traceback.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from runstack.cli.experiments import experiments
from runstack.cli.maintenance import db, gc
from runstack.cli.run import run
from runstack.cli.runs import runs
from runstack.cli.server import server, ui
from runstack.cli.users import tokens, users
from runstack.errors import RunstackError


class _Group(click.Group):
    """Turns runstack's own errors into one-line messages."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RunstackError as error:
            raise click.ClickException(error.message) from None


@click.group(cls=_Group)
@click.version_option(package_name="runstack")
def main() -> None:
    """runstack: track machine-learning runs (MLflow-compatible)."""


main.add_command(experiments)
main.add_command(runs)
main.add_command(run)
main.add_command(gc)
main.add_command(db)
main.add_command(server)
main.add_command(ui)
main.add_command(users)
main.add_command(tokens)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
