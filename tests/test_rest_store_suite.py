"""runstack's run-management test suite, again, with the store behind a tracking server.

The modules imported below are collected here a second time; this module's ``store_uri``
fixture overrides conftest's, so each of their tests runs against ``http://127.0.0.1:PORT``
served by runstack's server (in a thread of this process) over a fresh SQLite database and
a fresh PostgreSQL database. Row counts (``readback``) read the server's backing database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import readback
from conftest import create_postgres_database, drop_postgres_database, postgres_unavailable
from runstack.server.app import create_app
from runstack.server.artifact_settings import ArtifactSettings
from runstack.server.background import BackgroundServer
from runstack.store import close_stores, get_store

# The suite, collected again under this module's store_uri (star imports are the point).
from test_active_run import *  # noqa: F403
from test_client import *  # noqa: F403
from test_end_run import *  # noqa: F403
from test_exit_behaviour import *  # noqa: F403
from test_experiment_choice import *  # noqa: F403
from test_experiments import *  # noqa: F403
from test_inputs import *  # noqa: F403
from test_liveness import *  # noqa: F403
from test_logging import *  # noqa: F403
from test_metric_history import *  # noqa: F403
from test_nested import *  # noqa: F403
from test_resume import *  # noqa: F403
from test_smoke_backends import *  # noqa: F403
from test_start_run import *  # noqa: F403
from test_threads_asyncio import *  # noqa: F403

# Module marks are per module: the imported ones' (clean_env for the exit and liveness tests)
# are restated here, for every test, with this module's own.
pytestmark = [pytest.mark.usefixtures("clean_env"), pytest.mark.slow]

# White-box tests that open the SQL database named by the tracking URI themselves (not
# through ``readback``): they have no meaning behind a server.
for _name in (
    "test_heartbeat_beats_again_when_restarted_right_after_a_stop",
    "test_history_is_whole_and_ordered_across_compactions",
):
    globals().pop(_name, None)


@pytest.fixture(params=["http+sqlite", "http+postgresql"])
def store_uri(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A runstack server over a fresh database; its URL is the tracking URI."""
    database = None
    if request.param == "http+sqlite":
        backend = f"sqlite:///{tmp_path}/server.db"
    else:
        reason = postgres_unavailable()
        if reason:
            if os.environ.get("RUNSTACK_REQUIRE_POSTGRES"):
                pytest.fail(reason + " (RUNSTACK_REQUIRE_POSTGRES is set)")
            pytest.skip(reason)
        backend, database = create_postgres_database()
    # Without the artifact proxy: the suite's experiments keep the locations they are given
    # (a proxying server accepts only its destination's; tests/test_server_artifacts.py).
    no_proxy = ArtifactSettings.create(backend, serve=False)
    server = BackgroundServer(app=create_app(backend, None, no_proxy))
    url = server.start()
    monkeypatch.setattr(
        readback, "get_store", lambda uri: get_store(backend if uri == url else uri)
    )
    try:
        yield url
    finally:
        close_stores()
        server.stop()
        if database is not None:
            drop_postgres_database(database)
