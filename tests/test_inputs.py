"""Dataset inputs (``log_input``, ``log_inputs``, ``TrackingClient.log_inputs``): what is
logged reads back exactly, datasets are shared by (name, digest) within an experiment, an
input a run already has is kept as it is, bad calls change nothing, search finds runs by
their datasets and returns runs with their inputs. On SQLite and PostgreSQL (and through
the server, see test_rest_store_suite)."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runstack
from readback import count_rows, fresh_client, snapshot
from runstack import Dataset, DatasetInput, InputTag, LoggedModelInput, RunInputs
from runstack.errors import InvalidParameterError, InvalidStateError, ResourceNotFoundError

CONTEXT = "mlflow.data.context"
TRAIN = Dataset(
    "train",
    "d1g3st",
    "http",
    '{"url": "https://example.com/train.csv"}',
    schema='{"mlflow_colspec": [{"name": "x", "type": "double"}]}',
    profile='{"num_rows": 3}',
)
TEST = Dataset("test", "0ther", "local", '{"uri": "/data/test.csv"}')


def _inputs(run_id: str) -> RunInputs:
    return fresh_client().get_run(run_id).inputs


def _tags(item: DatasetInput) -> dict[str, str]:
    return {tag.key: tag.value for tag in item.tags}


def test_round_trip_of_every_field(tracking: str) -> None:
    unicode = Dataset("données-π 🚀", "ü" * 36, "s3", '{"uri": "s3://b/ключ"}', "é", "")
    with runstack.start_run() as run:
        runstack.log_input(TRAIN, context="training", tags={"split": "a", "n": 3})  # type: ignore[dict-item]
        runstack.log_input(unicode)
        runstack.log_input(TEST, context="eval")
        assert [d.dataset.name for d in run.inputs.dataset_inputs] == [
            "train",
            unicode.name,
            "test",
        ]
    inputs = _inputs(run.info.run_id)
    assert inputs.model_inputs == ()
    first, second, third = inputs.dataset_inputs
    assert first.dataset == TRAIN
    assert _tags(first) == {CONTEXT: "training", "split": "a", "n": "3"}
    assert second == DatasetInput(unicode, ())
    assert (second.dataset.schema, second.dataset.profile) == ("é", "")
    assert third.dataset == TEST and third.dataset.schema is None and third.dataset.profile is None
    assert third.tags == (InputTag(CONTEXT, "eval"),)
    as_dict = fresh_client().get_run(run.info.run_id).to_dictionary()["inputs"]
    assert as_dict["model_inputs"] == []
    assert as_dict["dataset_inputs"][0] == {
        "dataset": TRAIN.to_dictionary(),
        "tags": {CONTEXT: "training", "split": "a", "n": "3"},
    }


def test_log_inputs_keeps_logging_order_and_pairs_by_position(tracking: str) -> None:
    extra = Dataset("extra", "e", "code", "{}")
    with runstack.start_run() as run:
        runstack.log_inputs([TEST, TRAIN], contexts=["eval", None], tags_list=[None, {"k": "v"}])
        runstack.log_input(extra)
        runstack.log_inputs([extra, TEST])  # both already inputs of the run: nothing changes
    inputs = _inputs(run.info.run_id).dataset_inputs
    assert [d.dataset.name for d in inputs] == ["test", "train", "extra"]
    assert [_tags(d) for d in inputs] == [{CONTEXT: "eval"}, {"k": "v"}, {}]


def test_client_takes_entities_and_bare_datasets(client: runstack.TrackingClient) -> None:
    run_id = client.create_run("0").info.run_id
    client.log_inputs(run_id, [DatasetInput(TRAIN, [InputTag("a", "1")]), TEST])
    client.log_inputs(run_id)  # nothing to log: fine
    client.log_inputs(run_id, [], [])
    inputs = client.get_run(run_id).inputs.dataset_inputs
    assert inputs == (DatasetInput(TRAIN, (InputTag("a", "1"),)), DatasetInput(TEST))


def test_duplicates_in_one_call_collapse_to_the_first(client: runstack.TrackingClient) -> None:
    run_id = client.create_run("0").info.run_id
    twin = Dataset("train", "d1g3st", "local", "elsewhere")  # same name and digest
    client.log_inputs(
        run_id,
        [DatasetInput(TRAIN, [InputTag("x", "1")]), DatasetInput(twin, [InputTag("y", "2")])],
    )
    (only,) = client.get_run(run_id).inputs.dataset_inputs
    assert only == DatasetInput(TRAIN, (InputTag("x", "1"),))
    assert count_rows("datasets") == 1 and count_rows("run_inputs") == 1


def test_an_existing_input_is_kept_as_it_is(client: runstack.TrackingClient) -> None:
    """MLflow's rule: logging a dataset the run already has adds no tags and changes nothing."""
    run_id = client.create_run("0").info.run_id
    client.log_inputs(run_id, [DatasetInput(TRAIN, [InputTag(CONTEXT, "training")])])
    before = snapshot()
    changed = Dataset("train", "d1g3st", "other", "other source", None, None)
    client.log_inputs(run_id, [DatasetInput(changed, [InputTag(CONTEXT, "eval")])])
    assert snapshot() == before
    (only,) = client.get_run(run_id).inputs.dataset_inputs
    assert only == DatasetInput(TRAIN, (InputTag(CONTEXT, "training"),))


def test_datasets_are_shared_within_an_experiment(client: runstack.TrackingClient) -> None:
    other_experiment = client.create_experiment("other")
    first = client.create_run("0").info.run_id
    second = client.create_run("0").info.run_id
    third = client.create_run(other_experiment).info.run_id
    client.log_inputs(first, [TRAIN])
    # Same (name, digest) in the same experiment: the stored dataset is reused as it is.
    client.log_inputs(second, [DatasetInput(Dataset("train", "d1g3st", "x", "y"), [])])
    client.log_inputs(third, [Dataset("train", "d1g3st", "x", "y")])
    assert count_rows("datasets") == 2 and count_rows("run_inputs") == 3
    assert client.get_run(second).inputs.dataset_inputs[0].dataset == TRAIN
    assert client.get_run(third).inputs.dataset_inputs[0].dataset.source == "y"
    # Another digest is another dataset.
    client.log_inputs(second, [Dataset("train", "v2", "x", "y")])
    assert [d.dataset.digest for d in client.get_run(second).inputs.dataset_inputs] == [
        "d1g3st",
        "v2",
    ]


def test_concurrent_runs_share_one_dataset_row(client: runstack.TrackingClient) -> None:
    """Writers racing to create the same dataset: one row, every run gets its input."""
    run_ids = [client.create_run("0").info.run_id for _ in range(6)]
    barrier = threading.Barrier(len(run_ids))
    errors: list[BaseException] = []

    def log(run_id: str) -> None:
        try:
            own = runstack.TrackingClient(client.tracking_uri)
            barrier.wait()
            own.log_inputs(run_id, [TRAIN, TEST])
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=log, args=(run_id,)) for run_id in run_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert count_rows("datasets") == 2 and count_rows("run_inputs") == 12
    for run_id in run_ids:
        assert [d.dataset for d in client.get_run(run_id).inputs.dataset_inputs] == [TRAIN, TEST]


def test_context_is_an_input_tag(tracking: str) -> None:
    with runstack.start_run() as run:
        runstack.log_input(TRAIN, context="")  # empty: no context, as in MLflow
        with pytest.raises(InvalidParameterError, match="without a dataset"):
            runstack.log_input(context="training")
        with pytest.raises(InvalidParameterError, match="without a dataset"):
            runstack.log_inputs([None], contexts=["x"])
    (only,) = _inputs(run.info.run_id).dataset_inputs
    assert only.tags == ()


def test_log_input_starts_a_run_when_none_is_active(tracking: str) -> None:
    runstack.log_input(TRAIN)
    run = runstack.active_run()
    assert run is not None and run.inputs.dataset_inputs[0].dataset == TRAIN
    runstack.end_run()


def _changed(**changes: Any) -> DatasetInput:
    fields = TRAIN.to_dictionary() | changes
    return DatasetInput(SimpleNamespace(**fields))  # type: ignore[arg-type]


BAD_DATASETS = [
    (_changed(name="n" * 501), ["name", "501", "500"]),
    (_changed(digest="d" * 37), ["digest", "37", "36"]),
    (_changed(source_type="t" * 37), ["source_type", "37", "36"]),
    (_changed(source="s" * 65536), ["source", "65536", "65535"]),
    (_changed(schema="s" * 1048576), ["schema", "1048576", "1048575"]),
    (_changed(profile="p" * 16777216), ["profile", "16777216", "16777215"]),
    (_changed(name=None), ["name", "required"]),
    (_changed(digest=None), ["digest", "required"]),
    (_changed(source_type=None), ["source_type", "required"]),
    (_changed(source=None), ["source", "required"]),
    (_changed(name=5), ["name", "int", "string"]),
    (_changed(source="a\x00b"), ["source", "NUL"]),
    (DatasetInput(TRAIN, (InputTag("k" * 256, "v"),)), ["key", "256", "255"]),
    (DatasetInput(TRAIN, (InputTag("k", "v" * 501),)), ["'k' value", "501", "500"]),
    (DatasetInput(TRAIN, (InputTag("", "v"),)), ["key", "non-empty"]),
    (DatasetInput(TRAIN, (InputTag("k", None),)), ["'k'", "None"]),  # type: ignore[arg-type]
    (DatasetInput(TRAIN, (InputTag("k", "1"), InputTag("k", "2"))), ["'k'", "twice"]),
    (DatasetInput(None), ["no dataset"]),  # type: ignore[arg-type]
    (DatasetInput(object()), ["not a dataset"]),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("bad", "words"), BAD_DATASETS)
def test_invalid_inputs_are_refused_and_change_nothing(
    client: runstack.TrackingClient, bad: DatasetInput, words: list[str]
) -> None:
    run_id = client.create_run("0").info.run_id
    before = snapshot()
    with pytest.raises(InvalidParameterError) as caught:
        client.log_inputs(run_id, [DatasetInput(TEST), bad])  # the good one is not written
    message = str(caught.value)
    assert all(word in message for word in words), message
    assert snapshot() == before


def test_limits_are_inclusive(client: runstack.TrackingClient) -> None:
    run_id = client.create_run("0").info.run_id
    longest = Dataset("n" * 500, "d" * 36, "t" * 36, "s" * 65535, "c" * 1048575, "p" * 100)
    if client.tracking_uri.startswith("http"):  # runstack's server: 1 MB per request
        with pytest.raises(InvalidParameterError, match="over the server's request limit"):
            client.log_inputs(run_id, [longest])
        longest = dataclasses.replace(longest, schema="c" * 500_000)
    client.log_inputs(run_id, [DatasetInput(longest, (InputTag("k" * 255, "v" * 500),))])
    (stored,) = client.get_run(run_id).inputs.dataset_inputs
    assert stored == DatasetInput(longest, (InputTag("k" * 255, "v" * 500),))


def test_at_most_1000_datasets_per_call(client: runstack.TrackingClient) -> None:
    run_id = client.create_run("0").info.run_id
    many = [Dataset(f"d{i}", str(i), "code", "{}") for i in range(1001)]
    with pytest.raises(InvalidParameterError, match=r"1001 dataset inputs.*limit is 1000"):
        client.log_inputs(run_id, many)
    assert count_rows("datasets") == 0
    client.log_inputs(run_id, many[:1000])
    assert len(client.get_run(run_id).inputs.dataset_inputs) == 1000


def test_model_inputs_are_refused(tracking: str) -> None:
    with runstack.start_run() as run:
        before = snapshot()
        with pytest.raises(
            InvalidParameterError, match=r"[Ll]ogged-model inputs are not supported"
        ):
            runstack.log_input(TRAIN, model=LoggedModelInput("m-1"))
        with pytest.raises(InvalidParameterError, match="'m-2'"):
            runstack.log_inputs([TRAIN], models=[LoggedModelInput("m-2")])
        with pytest.raises(InvalidParameterError, match="not supported"):
            fresh_client().log_inputs(run.info.run_id, [TRAIN], [LoggedModelInput("m-3")])
        assert snapshot() == before
        runstack.log_inputs([TRAIN], models=[])  # an empty list is no model input
        runstack.log_inputs([TEST], models=[None])
    assert len(_inputs(run.info.run_id).dataset_inputs) == 2


def test_fluent_argument_errors(tracking: str) -> None:
    with runstack.start_run():
        before = snapshot()
        with pytest.raises(InvalidParameterError, match="2 datasets, 1 contexts"):
            runstack.log_inputs([TRAIN, TEST], contexts=["a"])
        with pytest.raises(InvalidParameterError, match="must be a list"):
            fresh_client().log_inputs(runstack.active_run().info.run_id, TRAIN)  # type: ignore[arg-type,union-attr]
        assert snapshot() == before


def test_unknown_and_deleted_runs(client: runstack.TrackingClient) -> None:
    before = snapshot()
    with pytest.raises(ResourceNotFoundError):
        client.log_inputs("f" * 32, [TRAIN])
    with pytest.raises(ResourceNotFoundError):
        client.log_inputs("f" * 32)
    assert snapshot() == before
    run_id = client.create_run("0").info.run_id
    client.delete_run(run_id)
    before = snapshot()
    with pytest.raises(InvalidStateError, match="deleted"):
        client.log_inputs(run_id, [TRAIN])
    assert snapshot() == before


def test_mlflow_style_objects_are_read_by_attribute(client: runstack.TrackingClient) -> None:
    """MLflow's entities and mlflow.data datasets, duck-typed (no mlflow import needed)."""

    class MlflowDataset:  # like mlflow.data.dataset.Dataset
        def _to_mlflow_entity(self) -> Any:
            return SimpleNamespace(**TRAIN.to_dictionary())

    mlflow_input = SimpleNamespace(  # like mlflow.entities.DatasetInput
        dataset=SimpleNamespace(**TEST.to_dictionary()),
        tags=[SimpleNamespace(key="k", value="v")],
    )
    run_id = client.create_run("0").info.run_id
    client.log_inputs(run_id, [MlflowDataset(), mlflow_input])
    assert client.get_run(run_id).inputs.dataset_inputs == (
        DatasetInput(TRAIN),
        DatasetInput(TEST, (InputTag("k", "v"),)),
    )


# Search ---------------------------------------------------------------------------------------


@pytest.fixture
def searchable(client: runstack.TrackingClient) -> dict[str, str]:
    """Runs a (train+test), b (train, other digest), c (test only), d (no inputs)."""
    ids = {}
    for name in "abcd":
        ids[name] = client.create_run("0", run_name=name, start_time=1000 + ord(name)).info.run_id
    client.log_inputs(
        ids["a"],
        [DatasetInput(TRAIN, [InputTag(CONTEXT, "training")]), DatasetInput(TEST, [])],
    )
    client.log_inputs(
        ids["b"], [DatasetInput(Dataset("train", "v2", "http", "{}"), [InputTag(CONTEXT, "eval")])]
    )
    client.log_inputs(ids["c"], [DatasetInput(TEST, [InputTag(CONTEXT, "Eval-Set")])])
    return ids


SEARCHES = [
    ("datasets.name = 'train'", "ab"),
    ("dataset.name = 'test'", "ac"),
    ("datasets.name != 'train'", "ac"),  # some input with another name; d has none
    ("NOT datasets.name = 'train'", "cd"),
    ("datasets.digest = 'd1g3st'", "a"),
    ("datasets.digest IN ('v2', '0ther')", "abc"),
    ("datasets.digest NOT IN ('v2')", "ac"),
    ("datasets.name LIKE 'tr%'", "ab"),
    ("datasets.name LIKE 'TR%'", ""),
    ("datasets.name ILIKE 'TR%'", "ab"),
    ("datasets.context = 'training'", "a"),
    ("datasets.context != 'training'", "bc"),  # a's test input has no context
    ("datasets.context ILIKE 'eval%'", "bc"),
    ("datasets.context IN ('eval', 'training')", "ab"),
    ("datasets.context NOT IN ('eval')", "ac"),
    ("datasets.name = 'train' AND datasets.context = 'eval'", "b"),
    ("datasets.name = 'test' AND datasets.context = 'training'", "a"),  # two inputs of a
    ("datasets.name = 'nope' OR run_name = 'd'", "d"),
]


@pytest.mark.parametrize(("filter_string", "expected"), SEARCHES)
def test_search_by_dataset(
    client: runstack.TrackingClient, searchable: dict[str, str], filter_string: str, expected: str
) -> None:
    found = client.search_runs(["0"], filter_string)
    assert sorted(run.info.run_name for run in found) == list(expected)


def test_search_results_carry_their_inputs(
    client: runstack.TrackingClient, searchable: dict[str, str]
) -> None:
    pages = [client.search_runs(["0"], max_results=3)]
    pages.append(client.search_runs(["0"], max_results=3, page_token=pages[0].token))
    found = [run for page in pages for run in page]
    assert len(found) == 4
    for run in found:
        assert run.inputs == client.get_run(run.info.run_id).inputs
    by_name = {run.info.run_name: run for run in found}
    assert [d.dataset.name for d in by_name["a"].inputs.dataset_inputs] == ["train", "test"]
    assert by_name["d"].inputs == RunInputs()
    listed = runstack.search_runs(output_format="list", filter_string="datasets.name = 'test'")
    assert {run.info.run_name for run in listed} == {"a", "c"}
    assert all(run.inputs.dataset_inputs for run in listed)


# Property: any dataset within the limits reads back exactly ------------------------------------

_TEXT = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")


@pytest.fixture
def unique() -> itertools.count[int]:
    return itertools.count()


@pytest.mark.slow
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=st.text(_TEXT, max_size=480),
    digest=st.text(_TEXT, max_size=28),
    source_type=st.text(_TEXT, max_size=36),
    source=st.text(_TEXT, max_size=2000),
    schema=st.none() | st.text(_TEXT, max_size=2000),
    profile=st.none() | st.text(_TEXT, max_size=2000),
    tags=st.dictionaries(st.text(_TEXT, min_size=1, max_size=255), st.text(_TEXT, max_size=500)),
)
def test_dataset_fields_round_trip(
    client: runstack.TrackingClient,
    unique: itertools.count[int],
    name: str,
    digest: str,
    source_type: str,
    source: str,
    schema: str | None,
    profile: str | None,
    tags: dict[str, str],
) -> None:
    # A fresh (name, digest) per example: an existing dataset would be reused as it is.
    dataset = Dataset(name, f"{next(unique)}:{digest}", source_type, source, schema, profile)
    run_id = client.create_run("0").info.run_id
    logged = DatasetInput(dataset, tuple(InputTag(k, v) for k, v in tags.items()))
    client.log_inputs(run_id, [logged])
    (stored,) = client.get_run(run_id).inputs.dataset_inputs
    assert stored.dataset == dataset
    assert _tags(stored) == tags
