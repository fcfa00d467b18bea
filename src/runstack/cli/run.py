"""``runstack run SCRIPT [ARGS]``: run an unchanged MLflow script against runstack."""

from __future__ import annotations

import click

from runstack.cli.options import tracking_uri_option


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@tracking_uri_option
@click.option("-m", "module", is_flag=True, help="Run a module by name, like python -m.")
@click.argument("script")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(tracking_uri: str | None, module: bool, script: str, args: tuple[str, ...]) -> None:
    """Run SCRIPT with `import mlflow` meaning runstack, in this process only.

    The script gets ARGS as sys.argv[1:] and runs as __main__; its exit code is runstack's.
    Parts of MLflow that runstack does not provide (mlflow.sklearn, ...) fail with a message
    naming them. Python child processes the script starts (multiprocessing, subprocess) get
    the same alias, and --tracking-uri as MLFLOW_TRACKING_URI.
    """
    from runstack.script_runner.runner import run as run_script

    if tracking_uri:
        from runstack.settings import TRACKING_URI
        from runstack.tracking_uri import get_tracking_uri, set_tracking_uri

        set_tracking_uri(tracking_uri)
        TRACKING_URI.export(get_tracking_uri())  # resolved, for the script's children too
    # SystemExit directly (not sys.exit): the status the script's exit recorded for its
    # runs (FAILED, KILLED) must not be overwritten by the runner's own exit.
    raise SystemExit(run_script(script, list(args), module=module))
