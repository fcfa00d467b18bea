"""The web UI's data endpoints (/api/2.0/runstack/ui/...) through a real server on a real
socket, on SQLite and PostgreSQL: the shapes of docs/ui-api.md, bad
input as 4xx JSON (never 500), NaN and infinities, deleted runs and experiments, nested runs,
long histories reduced from block summaries, and --read-only."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from json_api import JsonApi, served
from runstack.client import TrackingClient
from runstack.entities import Metric
from runstack.server.app import create_app
from runstack.server.background import BackgroundServer
from runstack.server.config import ServerSettings

UI = "/api/2.0/runstack/ui/"


class Ui(JsonApi):
    """The UI data API's client: every error is a 4xx, and may say where in a filter it is."""

    prefix = UI
    timeout_s = 60.0

    def check_error(self, response: httpx.Response) -> None:
        assert response.status_code < 500, response.text
        super().check_error(response)

    def check_error_keys(self, error: dict[str, Any]) -> None:
        assert {"error_code", "message"} <= set(error) <= {"error_code", "message", "position"}


@pytest.fixture
def client(store_uri: str) -> TrackingClient:
    return TrackingClient(store_uri)


@pytest.fixture
def ui(store_uri: str, client: TrackingClient) -> Iterator[Ui]:
    with served(Ui, store_uri) as api:
        yield api


def _table(ui: Ui, experiment_id: str, **body: Any) -> dict[str, Any]:
    result: dict[str, Any] = ui.ok(
        "POST", "runs/table", {"experiment_ids": [experiment_id], **body}
    )
    return result


# --- config, prefixes, OpenAPI ------------------------------------------------------------


def test_config_under_both_prefixes_and_in_openapi(ui: Ui) -> None:
    config = ui.ok("GET", "config")
    assert config["read_only"] is False and config["version"]
    assert ui.ok("GET", "/ajax-api/2.0/runstack/ui/config") == config
    paths = ui.ok("GET", "/api/2.0/runstack/openapi.json")["paths"]
    for path in ("config", "experiments", "experiments/keys", "runs/table", "runs/detail"):
        assert UI + path in paths
    assert "post" in paths[UI + "runs/table"] and "get" in paths[UI + "metrics/series"]


# --- experiments ---------------------------------------------------------------------------


def test_experiments_count_runs_by_status_and_last_activity(ui: Ui, client: TrackingClient) -> None:
    exp = client.create_experiment("Vision_100%", tags={"team": "cv"})
    runs = [client.create_run(exp, start_time=1_000 + i) for i in range(5)]
    client.set_terminated(runs[0].info.run_id, "FINISHED", end_time=50_000)
    client.set_terminated(runs[1].info.run_id, "FAILED", end_time=2_000)
    client.set_terminated(runs[2].info.run_id, "KILLED", end_time=3_000)
    client.delete_run(runs[3].info.run_id)  # deleted runs are not counted
    client.create_experiment("other")
    found = ui.ok("GET", "experiments", name="vision_100%")["experiments"]
    assert [e["name"] for e in found] == ["Vision_100%"]
    (entry,) = found
    assert entry["run_counts"] == {
        "RUNNING": 1,
        "SCHEDULED": 0,
        "FINISHED": 1,
        "FAILED": 1,
        "KILLED": 1,
    }
    assert entry["last_activity"] == 50_000
    assert entry["tags"] == {"team": "cv"} and entry["lifecycle_stage"] == "active"
    assert entry["experiment_id"] == exp
    # "%" and "_" are literal characters of the name, not wildcards
    assert ui.ok("GET", "experiments", name="n%1")["experiments"] == []
    assert len(ui.ok("GET", "experiments", name="N_1")["experiments"]) == 1
    empty = ui.ok("GET", "experiments", name="other")["experiments"][0]
    assert empty["last_activity"] is None and sum(empty["run_counts"].values()) == 0


def test_experiments_views_and_paging(ui: Ui, client: TrackingClient) -> None:
    ids = [client.create_experiment(f"e{i}") for i in range(3)]
    client.delete_experiment(ids[1])
    active = {e["experiment_id"] for e in ui.ok("GET", "experiments")["experiments"]}
    assert ids[1] not in active and {ids[0], ids[2], "0"} <= active
    run = client.create_run(ids[0], start_time=5)
    client.delete_run(run.info.run_id)  # deleted on its own, before the experiment
    client.create_run(ids[0], start_time=7)
    client.delete_experiment(ids[0])
    deleted = {
        e["experiment_id"]: e for e in ui.ok("GET", "experiments", view="deleted")["experiments"]
    }
    assert set(deleted) == {ids[0], ids[1]}
    assert {e["lifecycle_stage"] for e in deleted.values()} == {"deleted"}
    # a deleted experiment counts all its runs, which are all deleted
    assert deleted[ids[0]]["run_counts"]["RUNNING"] == 2
    assert deleted[ids[0]]["last_activity"] == 7
    client.restore_experiment(ids[0])
    assert len(ui.ok("GET", "experiments", view="ALL")["experiments"]) == 4
    seen, token = [], None
    while True:
        params = {"max_results": 1, **({"page_token": token} if token else {})}
        page = ui.ok("GET", "experiments", view="all", **params)
        seen += [e["experiment_id"] for e in page["experiments"]]
        token = page["next_page_token"]
        if not token:
            break
    assert sorted(seen) == sorted(["0", *ids])
    ui.error(400, "GET", "experiments", view="archived")
    ui.error(400, "GET", "experiments", max_results=0)
    ui.error(400, "GET", "experiments", max_results="many")
    ui.error(400, "GET", "experiments", page_token="not-a-token")


# --- keys ----------------------------------------------------------------------------------


def test_keys_of_an_experiment(ui: Ui, client: TrackingClient) -> None:
    exp = client.create_experiment("keys")
    run = client.create_run(exp, tags={"Team": "a"})
    client.log_metric_values(run.info.run_id, {"train/loss": 1.0, "val/loss": 2.0, "acc": 3.0})
    client.log_param(run.info.run_id, "lr", 0.1)
    other = client.create_experiment("elsewhere")
    client.log_metric(client.create_run(other).info.run_id, "only_elsewhere", 1.0)
    got = ui.ok("GET", "experiments/keys", experiment_id=exp)
    assert got == {"keys": ["acc", "train/loss", "val/loss"], "truncated": False}
    assert ui.ok("GET", "experiments/keys", experiment_id=exp, contains="LOSS", max_results=1) == {
        "keys": ["train/loss"],
        "truncated": True,
    }
    assert ui.ok("GET", "experiments/keys", experiment_id=exp, kind="params")["keys"] == ["lr"]
    tags = ui.ok("GET", "experiments/keys", experiment_id=exp, kind="tags")["keys"]
    assert "Team" in tags and "mlflow.runName" in tags
    both = ui.ok("GET", "experiments/keys", experiment_id=[exp, other])["keys"]
    assert "only_elsewhere" in both
    for literal in ("%", "_", "\\", "'"):  # LIKE's wildcards and escapes are plain text
        assert ui.ok("GET", "experiments/keys", experiment_id=exp, contains=literal)["keys"] == []
    ui.error(400, "GET", "experiments/keys", experiment_id=exp, kind="datasets")
    ui.error(400, "GET", "experiments/keys", experiment_id="x1")
    ui.error(400, "GET", "experiments/keys")
    ui.error(400, "GET", "experiments/keys", experiment_id=exp, max_results=10_001)


@pytest.mark.slow
def test_ten_thousand_metric_keys(ui: Ui, client: TrackingClient) -> None:
    exp = client.create_experiment("wide")
    run_id = client.create_run(exp).info.run_id
    keys = [f"layer{i:05d}/grad_norm" for i in range(10_000)]
    for start in range(0, len(keys), 1000):
        client.log_metric_values(run_id, dict.fromkeys(keys[start : start + 1000], 1.0))
    client.set_terminated(run_id)
    everything = ui.ok("GET", "experiments/keys", experiment_id=exp, max_results=10_000)
    assert everything == {"keys": keys, "truncated": False}
    some = ui.ok("GET", "experiments/keys", experiment_id=exp, contains="LAYER0999")
    assert some["keys"] == [f"layer0999{i}/grad_norm" for i in range(10)]
    first = ui.ok("GET", "experiments/keys", experiment_id=exp)
    assert first["keys"] == keys[:100] and first["truncated"] is True
    row = _table(ui, exp, columns={"metrics": [keys[7], keys[9_999]]})["runs"][0]
    assert row["metrics"] == {keys[7]: 1.0, keys[9_999]: 1.0}


# --- run table -----------------------------------------------------------------------------


def test_table_sends_only_the_chosen_columns(ui: Ui, client: TrackingClient) -> None:
    exp = client.create_experiment("table")
    run = client.create_run(
        exp,
        run_name="<b>bold</b>",
        tags={"team": "a", "other": "x", "mlflow.source.name": "train.py"},
    )
    run_id = run.info.run_id
    client.log_metric_values(run_id, {"loss": math.nan, "acc": math.inf, "neg": -math.inf})
    client.log_metric(run_id, "unchosen", 1.0)
    client.log_param(run_id, "lr", "0.1")
    client.log_param(run_id, "unchosen", "x")
    client.set_tag(run_id, "mlflow.source.git.commit", "abc123")
    columns = {"metrics": ["loss", "acc", "neg", "missing"], "params": ["lr"], "tags": ["team"]}
    (row,) = _table(ui, exp, columns=columns)["runs"]
    assert row["metrics"] == {"loss": "NaN", "acc": "Infinity", "neg": "-Infinity"}
    assert row["params"] == {"lr": "0.1"} and row["tags"] == {"team": "a"}
    assert row["run_name"] == "<b>bold</b>" and row["status"] == "RUNNING"
    assert row["source"] == "train.py" and row["git_commit"] == "abc123"
    assert row["end_time"] is None and row["parent_run_id"] is None
    assert row["child_count"] == 0 and row["killed_reason"] is None
    assert row["experiment_id"] == exp and row["lifecycle_stage"] == "active"
    bare = _table(ui, exp)["runs"][0]
    assert bare["metrics"] == {} and bare["params"] == {} and bare["tags"] == {}


def test_table_nested_runs(ui: Ui, client: TrackingClient) -> None:
    exp = client.create_experiment("nested")
    parent = client.create_run(exp, run_name="parent", start_time=1000).info.run_id
    kids = [
        client.create_run(exp, run_name=f"kid{i}", parent_run_id=parent, start_time=2000 + i)
        for i in range(3)
    ]
    grandchild = client.create_run(
        exp, run_name="grandchild", parent_run_id=kids[0].info.run_id, start_time=3000
    )
    client.delete_run(kids[2].info.run_id)
    top = _table(ui, exp, parent_run_id="")["runs"]
    assert [(r["run_name"], r["child_count"]) for r in top] == [("parent", 2)]
    children = _table(ui, exp, parent_run_id=parent, order_by=["attributes.start_time ASC"])
    assert [r["run_name"] for r in children["runs"]] == ["kid0", "kid1"]
    assert children["runs"][0]["child_count"] == 1
    assert children["runs"][0]["parent_run_id"] == parent
    everything = _table(ui, exp, parent_run_id=parent, view="all")["runs"]
    assert {r["run_name"] for r in everything} == {"kid0", "kid1", "kid2"}
    assert _table(ui, exp, parent_run_id="", view="all")["runs"][0]["child_count"] == 3
    filtered = _table(ui, exp, parent_run_id=parent, filter="attributes.run_name = 'kid1'")
    assert [r["run_name"] for r in filtered["runs"]] == ["kid1"]
    assert len(_table(ui, exp)["runs"]) == 4  # no parent_run_id: every run
    grand = _table(ui, exp, parent_run_id=kids[0].info.run_id)["runs"]
    assert [r["run_id"] for r in grand] == [grandchild.info.run_id]
    ui.error(400, "POST", "runs/table", {"experiment_ids": [exp], "parent_run_id": "a'b"})


def test_table_filter_order_and_paging(ui: Ui, client: TrackingClient) -> None:
    exp = client.create_experiment("paging")
    ids = []
    for i in range(7):
        run_id = client.create_run(exp, run_name=f"r{i}", start_time=1000 + i).info.run_id
        client.log_metric(run_id, "loss", float(i % 4) if i != 5 else math.nan)
        client.log_param(run_id, "opt", "adam" if i % 2 else "sgd")
        ids.append(run_id)
    client.set_terminated(ids[0])
    body = {
        "filter": "(params.opt = 'adam' OR metrics.loss >= 2) "
        "AND NOT attributes.run_name IN ('r7')",
        "order_by": ["metrics.loss DESC"],
        "columns": {"metrics": ["loss"]},
        "max_results": 2,
    }
    seen: list[tuple[str, Any]] = []
    token = None
    while True:
        page = _table(ui, exp, **body, **({"page_token": token} if token else {}))
        assert len(page["runs"]) <= 2
        seen += [(r["run_name"], r["metrics"].get("loss")) for r in page["runs"]]
        token = page["next_page_token"]
        if token is None:
            break
    # adam: r1 r3 r5; loss >= 2: r2 r3 r6; ties by start time, newest first; NaN last
    assert seen == [("r3", 3.0), ("r6", 2.0), ("r2", 2.0), ("r1", 1.0), ("r5", "NaN")]
    # the same ordering as runs/search, which the table reuses
    search = ui.ok(
        "POST",
        "/api/2.0/mlflow/runs/search",
        {"experiment_ids": [exp], "filter": body["filter"], "order_by": body["order_by"]},
    )
    assert [r["info"]["run_name"] for r in search["runs"]] == [name for name, _ in seen]


def test_table_malformed_filter_has_a_position(ui: Ui, client: TrackingClient) -> None:
    exp = client.create_experiment("bad-filter")
    text = "metrics.loss < 1 AND (params.lr = "
    error = ui.error(400, "POST", "runs/table", {"experiment_ids": [exp], "filter": text})
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert error["position"] == len(text) and "position 34" in error["message"]
    error = ui.error(
        400, "POST", "runs/table", {"experiment_ids": [exp], "filter": "metrics.loss >> 1"}
    )
    assert error["position"] == 14
    # the position is the user's, even with parent_run_id adding a condition
    body = {"experiment_ids": [exp], "filter": "params.x ~ 1", "parent_run_id": ""}
    assert ui.error(400, "POST", "runs/table", body)["position"] == 9


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"experiment_ids": ["zero"]},
        {"experiment_ids": ["0"], "columns": ["loss"]},
        {"experiment_ids": ["0"], "columns": {"metrics": "loss"}},
        {"experiment_ids": ["0"], "columns": {"metric": ["loss"]}},
        {"experiment_ids": ["0"], "columns": {"metrics": ["x"] * 201}},
        {"experiment_ids": ["0"], "order_by": ["metrics.loss SIDEWAYS"]},
        {"experiment_ids": ["0"], "view": "gone"},
        {"experiment_ids": ["0"], "max_results": 1001},
        {"experiment_ids": ["0"], "page_token": "garbage"},
        {"experiment_ids": ["0"], "filter": 3},
        {"experiment_ids": ["0"], "parent_run_id": "not a run id"},
    ],
)
def test_table_bad_input_is_a_400(ui: Ui, body: dict[str, Any]) -> None:
    error = ui.error(400, "POST", "runs/table", body)
    assert error["error_code"] in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST")


def test_table_is_post_only_and_takes_json(ui: Ui) -> None:
    ui.error(405, "GET", "runs/table")
    response = ui.http.post(UI + "runs/table", content=b"[1, 2")
    assert response.status_code == 400 and response.json()["error_code"] == "BAD_REQUEST"


def test_table_deleted_experiment_and_runs(ui: Ui, client: TrackingClient) -> None:
    exp = client.create_experiment("gone")
    run_id = client.create_run(exp, run_name="r").info.run_id
    client.delete_experiment(exp)
    assert _table(ui, exp)["runs"] == []
    assert [r["run_name"] for r in _table(ui, exp, view="deleted")["runs"]] == ["r"]
    assert _table(ui, exp, view="deleted")["runs"][0]["lifecycle_stage"] == "deleted"
    detail = ui.ok("GET", "runs/detail", run_id=run_id)
    assert detail["run"]["info"]["lifecycle_stage"] == "deleted"


# --- run detail ----------------------------------------------------------------------------


def test_detail_metrics_summary_parent_and_children(ui: Ui, client: TrackingClient) -> None:
    exp = client.create_experiment("detail")
    parent = client.create_run(exp, run_name="parent").info.run_id
    run_id = client.create_run(exp, run_name="mid", parent_run_id=parent).info.run_id
    child = client.create_run(exp, run_name="leaf", parent_run_id=run_id).info.run_id
    values = [3.0, math.nan, -1.5, math.inf, 2.0]
    client.log_batch(run_id, [Metric("loss", v, 1000 + i, i) for i, v in enumerate(values)])
    client.log_metric(run_id, "only_nan", math.nan, step=0)
    client.set_tag(run_id, "runstack.killedReason", "no heartbeat since 12:00")
    detail = ui.ok("GET", "runs/detail", run_id=run_id)
    assert detail["run"]["info"]["run_id"] == run_id and detail["run"]["info"]["run_name"] == "mid"
    by_key = {m["key"]: m for m in detail["metrics"]}
    assert by_key["loss"] == {
        "key": "loss",
        "latest": 2.0,
        "step": 4,
        "timestamp": 1004,
        "min": -1.5,
        "max": "Infinity",
        "count": 5,
    }
    assert by_key["only_nan"]["latest"] == "NaN"
    assert by_key["only_nan"]["min"] is None and by_key["only_nan"]["count"] == 1
    assert detail["parent"] == {"run_id": parent, "run_name": "parent"}
    assert detail["children"] == [{"run_id": child, "run_name": "leaf", "status": "RUNNING"}]
    assert detail["killed_reason"] == "no heartbeat since 12:00"
    # after the run ends its points are folded into blocks: the same summary, from them
    client.log_metric(run_id, "loss", -7.0, step=2)
    client.set_terminated(run_id)
    folded = {m["key"]: m for m in ui.ok("GET", "runs/detail", run_id=run_id)["metrics"]}
    assert folded["loss"]["min"] == -7.0 and folded["loss"]["count"] == 6
    assert folded["loss"]["max"] == "Infinity" and folded["loss"]["latest"] == 2.0
    top = ui.ok("GET", "runs/detail", run_id=parent)
    assert top["parent"] is None and [c["run_name"] for c in top["children"]] == ["mid"]


def test_detail_bad_and_unknown_runs(ui: Ui) -> None:
    assert ui.error(404, "GET", "runs/detail", run_id="f" * 32)["error_code"] == (
        "RESOURCE_DOES_NOT_EXIST"
    )
    ui.error(400, "GET", "runs/detail", run_id="../etc")
    ui.error(400, "GET", "runs/detail")


# --- metric series -------------------------------------------------------------------------


def _series(ui: Ui, run_ids: list[str], key: str, **params: Any) -> list[dict[str, Any]]:
    body = ui.ok("GET", "metrics/series", run_id=run_ids, key=key, **params)
    assert body["key"] == key
    series: list[dict[str, Any]] = body["series"]
    return series


def test_series_whole_reduced_and_zoomed(ui: Ui, client: TrackingClient) -> None:
    exp = client.create_experiment("series")
    run_id = client.create_run(exp).info.run_id
    count, spike = 5_000, 3_141
    values = [1.0 + (i % 7) / 10 for i in range(count)]
    values[spike] = 1e6
    values[10] = -1e6
    for start in range(0, count, 1000):
        client.log_batch(
            run_id,
            [Metric("loss", values[i], 10_000 + i, i) for i in range(start, start + 1000)],
        )
    client.set_terminated(run_id)  # folded: blocks with summaries
    (whole,) = _series(ui, [run_id], "loss", max_points=100)  # 5,000 > 32 x 100: summaries
    assert whole["total_points"] == count and whole["reduced"] is True
    assert len(whole["steps"]) <= 100 and whole["steps"] == sorted(whole["steps"])
    assert whole["steps"][0] == 0 and whole["steps"][-1] == count - 1
    assert max(whole["values"]) == 1e6 and min(whole["values"]) == -1e6
    assert spike in whole["steps"] and len(whole["timestamps"]) == len(whole["steps"])
    (zoomed,) = _series(ui, [run_id], "loss", max_points=100, min_step=3_100, max_step=3_180)
    assert zoomed["reduced"] is False and zoomed["total_points"] == 81
    assert zoomed["steps"] == list(range(3_100, 3_181))
    assert zoomed["values"] == values[3_100:3_181]
    assert zoomed["timestamps"] == [10_000 + i for i in range(3_100, 3_181)]
    (exact,) = _series(ui, [run_id], "loss", max_points=1000)  # 5,000 <= 32 x 1000: points
    assert exact["reduced"] is True and len(exact["steps"]) <= 1000 and spike in exact["steps"]
    (default,) = _series(ui, [run_id], "loss")
    assert len(default["steps"]) <= 1000
    (edge,) = _series(ui, [run_id], "loss", max_points=4, min_step=2_000)
    assert edge["total_points"] == 3_000 and edge["steps"][0] == 2_000
    assert max(edge["values"]) == 1e6 and len(edge["steps"]) <= 4


def test_series_of_several_runs_running_and_special_values(ui: Ui, client: TrackingClient) -> None:
    exp = client.create_experiment("compare")
    finished = client.create_run(exp).info.run_id
    running = client.create_run(exp).info.run_id
    client.log_batch(
        finished, [Metric("m", v, 1, i) for i, v in enumerate([1.0, math.nan, -math.inf])]
    )
    client.set_terminated(finished)
    client.log_metric(running, "m", 5.0, timestamp=7, step=3)  # still in the log, not folded
    client.log_metric(running, "m", 4.0, timestamp=6, step=1)
    empty = client.create_run(exp).info.run_id
    series = _series(ui, [finished, running, empty, finished], "m")
    assert [s["run_id"] for s in series] == [finished, running, empty]
    assert series[0]["values"] == [1.0, "NaN", "-Infinity"] and series[0]["steps"] == [0, 1, 2]
    assert series[1]["steps"] == [1, 3] and series[1]["values"] == [4.0, 5.0]
    assert series[1]["timestamps"] == [6, 7]
    assert series[2] == {
        "run_id": empty,
        "total_points": 0,
        "reduced": False,
        "steps": [],
        "timestamps": [],
        "values": [],
    }
    client.delete_run(finished)
    assert _series(ui, [finished], "m")[0]["total_points"] == 3  # deleted runs still draw


def test_series_of_long_and_short_runs_in_one_request(ui: Ui, client: TrackingClient) -> None:
    exp = client.create_experiment("mixed")
    long_run = client.create_run(exp).info.run_id
    short_run = client.create_run(exp).info.run_id
    client.log_batch(long_run, [Metric("m", float(i % 13), 1, i) for i in range(6_000)])
    client.set_terminated(long_run)  # folded: 6,000 > 32 x 40, reduced from summaries
    client.log_batch(short_run, [Metric("m", -float(i), 2, i) for i in range(30)])
    long_series, short_series = _series(ui, [long_run, short_run], "m", max_points=40)
    assert long_series["reduced"] and long_series["total_points"] == 6_000
    assert len(long_series["steps"]) <= 40 and max(long_series["values"]) == 12.0
    assert long_series["steps"][0] == 0 and long_series["steps"][-1] == 5_999
    assert not short_series["reduced"] and short_series["steps"] == list(range(30))
    assert short_series["values"] == [-float(i) for i in range(30)]


def test_series_bad_input(ui: Ui, client: TrackingClient) -> None:
    run_id = client.create_run("0").info.run_id
    assert ui.error(404, "GET", "metrics/series", run_id="e" * 32, key="m")["error_code"] == (
        "RESOURCE_DOES_NOT_EXIST"
    )
    ui.error(400, "GET", "metrics/series", key="m")
    ui.error(400, "GET", "metrics/series", run_id=run_id)
    ui.error(400, "GET", "metrics/series", run_id=run_id, key="m", max_points=3)
    ui.error(400, "GET", "metrics/series", run_id=run_id, key="m", max_points=100_001)
    ui.error(400, "GET", "metrics/series", run_id=run_id, key="m", min_step=5, max_step=4)
    ui.error(400, "GET", "metrics/series", run_id=run_id, key="m", min_step="x")
    ui.error(400, "GET", "metrics/series", run_id=run_id, key="../m")
    ui.error(400, "GET", "metrics/series", run_id=[run_id] * 201, key="m")


# --- read-only -----------------------------------------------------------------------------


def test_read_only_refuses_every_change(store_uri: str, client: TrackingClient) -> None:
    exp = client.create_experiment("kept")
    run_id = client.create_run(exp).info.run_id
    with BackgroundServer(app=create_app(store_uri, ServerSettings(read_only=True))) as url:
        ui = Ui(url)
        assert ui.ok("GET", "config")["read_only"] is True
        mlflow = "/api/2.0/mlflow/"
        changes = [
            ("experiments/create", {"name": "new"}),
            ("experiments/update", {"experiment_id": exp, "new_name": "renamed"}),
            ("experiments/delete", {"experiment_id": exp}),
            ("experiments/restore", {"experiment_id": exp}),
            ("runs/create", {"experiment_id": exp}),
            ("runs/delete", {"run_id": run_id}),
            ("runs/restore", {"run_id": run_id}),
            ("runs/log-metric", {"run_id": run_id, "key": "m", "value": 1, "timestamp": 1}),
            ("runs/set-tag", {"run_id": run_id, "key": "k", "value": "v"}),
        ]
        for path, body in changes:
            error = ui.error(403, "POST", mlflow + path, body)
            assert error["error_code"] == "PERMISSION_DENIED" and "read-only" in error["message"]
        for path in ("runs/create", "runs/log-batch"):
            ui.error(403, "POST", "/api/2.0/runstack/" + path, {"experiment_id": exp})
        ui.error(403, "POST", "/ajax-api/2.0/mlflow/experiments/create", {"name": "new"})
        # reads, including the POST searches, still work
        assert ui.ok("POST", mlflow + "runs/search", {"experiment_ids": [exp]})["runs"]
        assert _table(ui, exp)["runs"][0]["run_id"] == run_id
        assert ui.ok("GET", mlflow + "experiments/get", experiment_id=exp)
        ui.http.close()
    assert client.get_experiment(exp).name == "kept"
    run = client.get_run(run_id)
    assert run.info.lifecycle_stage == "active" and not run.data.metrics
    assert client.get_experiment_by_name("new") is None


def test_the_rest_store_says_ui_reads_need_the_sql_store() -> None:
    from runstack.errors import RunstackError
    from runstack.store.rest import RestStore
    from runstack.store.ui_types import RunTableQuery

    store = RestStore("http://127.0.0.1:9")  # never contacted
    calls = [
        lambda: store.experiment_activity(["0"]),
        lambda: store.experiment_keys(["0"], "metrics", "", 10),
        lambda: store.runs_table(RunTableQuery(["0"])),
        lambda: store.metric_value_ranges("a" * 32),
        lambda: store.metric_series(["a" * 32], "m", 10, None, None),
    ]
    for call in calls:
        with pytest.raises(RunstackError) as raised:
            call()
        assert raised.value.error_code == "NOT_IMPLEMENTED"
        assert "/api/2.0/runstack/ui/" in raised.value.message
    store.close()
