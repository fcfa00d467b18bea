"""The store opens on both backends and a run round-trips through it."""

from __future__ import annotations

import runstack


def test_run_round_trips(tracking: str) -> None:
    with runstack.start_run(run_name="first") as run:
        runstack.log_param("lr", 0.1)
        runstack.log_metric("loss", 0.5, step=3)
    stored = runstack.get_run(run.info.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.info.run_name == "first"
    assert stored.data.params == {"lr": "0.1"}
    assert stored.data.metrics == {"loss": 0.5}
