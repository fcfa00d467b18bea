"""The artifact API on both stores: fluent, client and ``runstack.artifacts``, round trips of
files, folders, text, dicts (JSON, YAML), figures, images and tables, and bad input."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

import runstack
from runstack import artifacts
from runstack.artifacts.optional import MissingDependencyError
from runstack.entities import FileInfo
from runstack.errors import InvalidParameterError, ResourceNotFoundError


def _run_dir(run_id: str) -> Path:
    return Path(runstack.get_run(run_id).info.artifact_uri)


def test_run_artifact_uri_is_absolute_under_the_experiment(tracking: str) -> None:
    experiment_id = runstack.create_experiment("exp")
    with runstack.start_run(experiment_id=experiment_id) as run:
        uri = runstack.get_artifact_uri()
        assert uri == run.info.artifact_uri
        assert Path(uri).is_absolute()
        experiment = runstack.get_experiment(experiment_id)
        assert uri == f"{experiment.artifact_location}/{run.info.run_id}/artifacts"
        assert runstack.get_artifact_uri("a/b.txt") == f"{uri}/a/b.txt"
        with pytest.raises(InvalidParameterError, match=r"'\.\.'"):
            runstack.get_artifact_uri("../other-run")


def test_fluent_files_and_folders(tracking: str, tmp_path: Path) -> None:
    (tmp_path / "data" / "sub").mkdir(parents=True)
    (tmp_path / "data" / "x.csv").write_text("a,b\n1,2\n")
    (tmp_path / "data" / "sub" / "y.txt").write_text("y")
    (tmp_path / "model.pkl").write_bytes(b"\x80\x04.")
    with runstack.start_run() as run:
        runstack.log_artifact(str(tmp_path / "model.pkl"))
        runstack.log_artifact(str(tmp_path / "model.pkl"), artifact_path="models")
        runstack.log_artifact(str(tmp_path / "data"))  # a folder keeps its name
        runstack.log_artifacts(str(tmp_path / "data"), artifact_path="flat")
        runstack.log_artifacts(tmp_path / "data" / "sub")  # type: ignore[arg-type]
    client = runstack.MlflowClient()
    assert client.list_artifacts(run.info.run_id) == [
        FileInfo("data", True, None),
        FileInfo("flat", True, None),
        FileInfo("model.pkl", False, 3),
        FileInfo("models", True, None),
        FileInfo("y.txt", False, 1),
    ]
    assert [f.path for f in client.list_artifacts(run.info.run_id, "data")] == [
        "data/sub",
        "data/x.csv",
    ]
    assert [f.path for f in client.list_artifacts(run.info.run_id, "flat/sub")] == [
        "flat/sub/y.txt"
    ]
    root = _run_dir(run.info.run_id)
    assert (root / "data" / "sub" / "y.txt").read_text() == "y"


def test_client_text_and_dicts_round_trip(client: runstack.TrackingClient) -> None:
    run_id = client.create_run("0").info.run_id
    config = {"lr": 0.1, "layers": [64, 32], "name": "é", "nested": {"b": 2, "a": 1}}
    client.log_text(run_id, "héllo\n", "notes/readme.md")
    client.log_dict(run_id, config, "config.json")
    client.log_dict(run_id, config, "conf/config.yaml")
    client.log_dict(run_id, {"when": Path("/x")}, "odd")  # not JSON-able: stored as str()
    root = _run_dir(run_id)
    assert (root / "notes" / "readme.md").read_bytes() == "héllo\n".encode()
    assert json.loads((root / "config.json").read_text()) == config
    assert (root / "config.json").read_text().startswith('{\n  "lr": 0.1')
    yaml_text = (root / "conf" / "config.yaml").read_text()
    assert yaml_text.startswith("layers:\n")  # keys sorted, block style, as MLflow
    uri = client.get_run(run_id).info.artifact_uri
    assert artifacts.load_text(f"{uri}/notes/readme.md") == "héllo\n"
    assert artifacts.load_dict(f"{uri}/config.json") == config
    assert artifacts.load_dict(f"{uri}/conf/config.yaml") == config
    assert artifacts.load_dict(f"runs:/{run_id}/odd") == {"when": "/x"}


def test_download_and_list_addressing(client: runstack.TrackingClient, tmp_path: Path) -> None:
    run_id = client.create_run("0").info.run_id
    client.log_text(run_id, "1", "a/one.txt")
    client.log_text(run_id, "2", "a/b/two.txt")
    root = _run_dir(run_id)
    # Local artifacts without dst_path come back in place, as MLflow does.
    assert client.download_artifacts(run_id, "a/one.txt") == str(root / "a" / "one.txt")
    dst = tmp_path / "dst"
    dst.mkdir()
    got = client.download_artifacts(run_id, "a", str(dst))
    assert got == str(dst / "a")
    assert (dst / "a" / "b" / "two.txt").read_text() == "2"
    # A missing destination is created with its parents, as MLflow 3 does.
    made = client.download_artifacts(run_id, "a/one.txt", str(tmp_path / "missing" / "deeper"))
    assert made == str(tmp_path / "missing" / "deeper" / "a" / "one.txt")
    assert Path(made).read_text() == "1"
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(InvalidParameterError, match="is not a folder"):
        client.download_artifacts(run_id, "a", str(tmp_path / "a-file"))
    with pytest.raises(ResourceNotFoundError, match="'nope'"):
        client.download_artifacts(run_id, "nope")
    # runstack.artifacts creates dst_path and accepts runs:/ and location URIs.
    fresh = tmp_path / "new" / "place"
    local = artifacts.download_artifacts(run_id=run_id, artifact_path="a/b", dst_path=str(fresh))
    assert Path(local, "two.txt").read_text() == "2"
    local = artifacts.download_artifacts(f"runs:/{run_id}/a/one.txt", dst_path=str(fresh))
    assert Path(local).read_text() == "1"
    whole = artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path / "whole"))
    assert Path(whole, "a", "b", "two.txt").exists()
    assert [f.path for f in artifacts.list_artifacts(run_id=run_id)] == ["a"]
    assert [f.path for f in artifacts.list_artifacts(f"runs:/{run_id}/a")] == ["a/b", "a/one.txt"]
    assert [f.path for f in artifacts.list_artifacts(f"{root}/a")] == ["a/b", "a/one.txt"]
    with pytest.raises(InvalidParameterError, match="exactly one"):
        artifacts.list_artifacts()
    with pytest.raises(InvalidParameterError, match="only be given with run_id"):
        artifacts.download_artifacts(str(root), artifact_path="a")


@pytest.mark.parametrize("bad", ["../escape.txt", "/etc/passwd", "a\\b.txt", "x\x00.txt", ""])
def test_escaping_artifact_files_are_refused_and_nothing_is_written(
    client: runstack.TrackingClient, tmp_path: Path, bad: str
) -> None:
    run_id = client.create_run("0").info.run_id
    root = _run_dir(run_id)
    source = tmp_path / "f.txt"
    source.write_text("x")
    for attempt in (
        lambda: client.log_text(run_id, "x", bad),
        lambda: client.log_dict(run_id, {}, bad),
        lambda: client.log_artifact(run_id, str(source), bad or ".."),
        lambda: client.log_artifacts(run_id, str(tmp_path), bad or ".."),
        lambda: client.list_artifacts(run_id, bad or ".."),
        lambda: client.download_artifacts(run_id, bad or "..", str(tmp_path)),
    ):
        with pytest.raises(InvalidParameterError) as caught:
            attempt()
        assert "artifact" in caught.value.message
    assert not root.exists() or not any(root.rglob("*"))
    assert not (root.parent / "escape.txt").exists()


def test_bad_values_name_the_value(client: runstack.TrackingClient, tmp_path: Path) -> None:
    run_id = client.create_run("0").info.run_id
    with pytest.raises(InvalidParameterError, match="no such file"):
        client.log_artifact(run_id, str(tmp_path / "missing.bin"))
    # Also what MLflow raises there, for scripts that catch it.
    with pytest.raises(FileNotFoundError, match=r"missing\.bin"):
        client.log_artifact(run_id, str(tmp_path / "missing.bin"))
    with pytest.raises(FileNotFoundError, match="no-folder"):
        client.log_artifacts(run_id, str(tmp_path / "no-folder"))
    with pytest.raises(InvalidParameterError, match="needs a str"):
        client.log_text(run_id, b"bytes", "t.txt")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="matplotlib or plotly"):
        client.log_figure(run_id, object(), "f.png")
    with pytest.raises(InvalidParameterError, match="numpy array or a PIL image"):
        client.log_image(run_id, [[1, 2]], "i.png")
    with pytest.raises(InvalidParameterError, match="not both"):
        client.log_image(run_id, object(), "i.png", key="k", step=1)
    with pytest.raises(InvalidParameterError, match=r"artifact_file= .* or key="):
        client.log_image(run_id, object())
    with pytest.raises(InvalidParameterError, match=r"\.json or \.parquet"):
        client.log_table(run_id, {"a": [1]}, "t.csv")
    with pytest.raises(InvalidParameterError, match="may not contain"):
        client.log_table(run_id, {"a": [1]}, "a,b.json")
    assert client.list_artifacts(run_id) == []


def test_missing_run(client: runstack.TrackingClient) -> None:
    with pytest.raises(ResourceNotFoundError):
        client.log_text("0" * 32, "x", "x.txt")


def test_experiment_locations_are_checked_and_made_absolute(
    client: runstack.TrackingClient, clean_env: Path
) -> None:
    relative = client.create_experiment("rel", artifact_location="some/where")
    assert client.get_experiment(relative).artifact_location == f"{clean_env}/some/where"
    as_uri = client.create_experiment("uri", artifact_location="file:rel/dir")
    assert client.get_experiment(as_uri).artifact_location == f"file://{clean_env}/rel/dir"
    for kept in ("s3://bucket/prefix", "mlflow-artifacts:/x", "file:///data/x"):
        experiment_id = client.create_experiment(kept, artifact_location=kept)
        assert client.get_experiment(experiment_id).artifact_location == kept
    for bad in ("ftp://host/x", "gs://b/x", "runs:/abc/model", "http://h/x"):
        with pytest.raises(InvalidParameterError, match="artifact location"):
            client.create_experiment(f"bad {bad}", artifact_location=bad)
        assert client.get_experiment_by_name(f"bad {bad}") is None


def test_relative_artifact_root_setting_is_made_absolute(
    store_uri: str, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNSTACK_ARTIFACT_ROOT", "relative-root")
    client = runstack.TrackingClient(store_uri)
    run = client.create_run(client.create_experiment("e"))
    assert run.info.artifact_uri.startswith(f"{clean_env}/relative-root/")
    client.log_text(run.info.run_id, "x", "x.txt")
    assert (Path(run.info.artifact_uri) / "x.txt").read_text() == "x"


def test_file_uri_locations_work_end_to_end(
    client: runstack.TrackingClient, tmp_path: Path
) -> None:
    experiment_id = client.create_experiment("f", artifact_location=(tmp_path / "loc").as_uri())
    run_id = client.create_run(experiment_id).info.run_id
    client.log_text(run_id, "x", "d/x.txt")
    assert (tmp_path / "loc" / run_id / "artifacts" / "d" / "x.txt").read_text() == "x"
    assert [f.path for f in client.list_artifacts(run_id, "d")] == ["d/x.txt"]


# Optional libraries ---------------------------------------------------------------------------


def test_figures(client: runstack.TrackingClient) -> None:
    matplotlib = pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_id = client.create_run("0").info.run_id
    figure, axes = plt.subplots()
    axes.plot([1, 2, 3], [3, 1, 2])
    client.log_figure(run_id, figure, "plots/curve.png")
    client.log_figure(run_id, figure, "plots/curve.svg")
    client.log_figure(run_id, figure, "plots/curve.pdf")
    plt.close(figure)
    root = _run_dir(run_id)
    assert (root / "plots" / "curve.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert b"<svg" in (root / "plots" / "curve.svg").read_bytes()[:1000]
    assert (root / "plots" / "curve.pdf").read_bytes().startswith(b"%PDF-")


def test_plotly_figures(client: runstack.TrackingClient) -> None:
    go = pytest.importorskip("plotly.graph_objects", reason="plotly is not installed")
    run_id = client.create_run("0").info.run_id
    figure = go.Figure(data=[go.Bar(y=[1, 3, 2])])
    client.log_figure(run_id, figure, "plots/bar.html")
    page = artifacts.load_text(f"runs:/{run_id}/plots/bar.html")
    assert "cdn.plot.ly" in page and '"y":[1,3,2]' in page.replace(" ", "")
    assert page == (_run_dir(run_id) / "plots" / "bar.html").read_text()
    # As MLflow: .html, or an image format (through kaleido); anything else is refused.
    with pytest.raises(InvalidParameterError, match=r"use \.html or one of \.png"):
        client.log_figure(run_id, figure, "plots/bar.jpg")
    assert [f.path for f in client.list_artifacts(run_id, "plots")] == ["plots/bar.html"]


@pytest.mark.parametrize("name", ["bar.png", "bar.jpeg", "bar.webp", "bar.svg", "bar.pdf"])
def test_plotly_image_without_kaleido_names_it_and_writes_nothing(
    client: runstack.TrackingClient, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    go = pytest.importorskip("plotly.graph_objects", reason="plotly is not installed")
    monkeypatch.setitem(sys.modules, "kaleido", None)  # absent, even where it is installed
    run_id = client.create_run("0").info.run_id
    with pytest.raises(MissingDependencyError) as caught:
        client.log_figure(run_id, go.Figure(data=[go.Bar(y=[1])]), f"plots/{name}")
    message = str(caught.value)
    assert f"Saving a plotly figure as 'plots/{name}' needs the package 'kaleido'" in message
    assert "pip install kaleido" in message and "plotly_get_chrome" in message
    assert ".html" in message
    assert client.list_artifacts(run_id) == []
    assert not _run_dir(run_id).exists() or not any(_run_dir(run_id).rglob("*"))


def test_images_round_trip(client: runstack.TrackingClient) -> None:
    np = pytest.importorskip("numpy", reason="numpy is not installed")
    image_module = pytest.importorskip("PIL.Image", reason="Pillow is not installed")
    run_id = client.create_run("0").info.run_id
    rgb = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    client.log_image(run_id, rgb, "img/rgb.png")
    client.log_image(run_id, np.array([[0.0, 0.5], [1.0, 0.25]]), "img/gray.png")
    client.log_image(run_id, np.ones((2, 2, 1), dtype=bool), "img/mask.png")
    client.log_image(run_id, image_module.new("RGB", (3, 2), (10, 20, 30)), "img/pil.jpg")
    uri = client.get_run(run_id).info.artifact_uri
    loaded = artifacts.load_image(f"{uri}/img/rgb.png")
    assert loaded.size == (5, 4) and loaded.mode == "RGB"
    assert np.array_equal(np.asarray(loaded), rgb)
    gray = np.asarray(artifacts.load_image(f"{uri}/img/gray.png"))
    assert gray.tolist() == [[0, 127], [255, 63]]
    assert np.asarray(artifacts.load_image(f"{uri}/img/mask.png")).tolist() == [[255, 255]] * 2
    assert artifacts.load_image(f"runs:/{run_id}/img/pil.jpg").size == (3, 2)
    with pytest.warns(UserWarning, match="Rescaling"):
        client.log_image(run_id, np.array([[-1.0, 1.0]]), "img/rescaled.png")
    for bad, rule in (
        (np.array([[300]]), r"\[0, 255\]"),
        (np.zeros((2, 2, 2), dtype=np.uint8), "channel"),
        (np.zeros(3, dtype=np.uint8), "2-D or 3-D"),
        (np.array([["a"]]), "dtype"),
    ):
        with pytest.raises(InvalidParameterError, match=rule):
            client.log_image(run_id, bad, "img/bad.png")
    assert not (_run_dir(run_id) / "img" / "bad.png").exists()


def test_tables_use_mlflows_layout_and_append(client: runstack.TrackingClient) -> None:
    pd = pytest.importorskip("pandas", reason="pandas is not installed")
    run_id = client.create_run("0").info.run_id
    client.log_table(run_id, {"inputs": ["a", "b"], "score": [0.5, 1.0]}, "eval/table.json")
    client.log_table(run_id, pd.DataFrame({"inputs": ["c"], "score": [2.0]}), "eval/table.json")
    client.log_table(run_id, {"single": 1, "row": "x"}, "one.json")
    root = _run_dir(run_id)
    table = json.loads((root / "eval" / "table.json").read_text())
    assert table == {
        "columns": ["inputs", "score"],
        "data": [["a", 0.5], ["b", 1.0], ["c", 2.0]],
    }
    assert json.loads((root / "one.json").read_text())["data"] == [[1, "x"]]
    tag = json.loads(client.get_run(run_id).data.tags["mlflow.loggedArtifacts"])
    assert tag == [
        {"path": "eval/table.json", "type": "table"},
        {"path": "one.json", "type": "table"},
    ]


def test_missing_optional_library_is_named(tmp_path: Path) -> None:
    from conftest import run_python

    done = run_python(
        """
        import sys
        sys.modules["yaml"] = None  # as if PyYAML were not installed
        import runstack
        client = runstack.TrackingClient(sys.argv[1] if len(sys.argv) > 1 else None)
        run = client.create_run("0")
        try:
            client.log_dict(run.info.run_id, {"a": 1}, "c.yaml")
        except ImportError as error:
            print("ERROR", error)
        client.log_dict(run.info.run_id, {"a": 1}, "c.json")
        print("json ok")
        """,
        cwd=tmp_path,
        env={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/s.db"},
    )
    assert done.returncode == 0, done.stderr
    assert "ERROR Logging a dict as YAML needs the package 'PyYAML'" in done.stdout
    assert "pip install PyYAML" in done.stdout
    assert "json ok" in done.stdout
    assert os.listdir(tmp_path / "mlruns" / "0")


def test_time_stepped_images(client: runstack.TrackingClient) -> None:
    np = pytest.importorskip("numpy", reason="numpy is not installed")
    pytest.importorskip("PIL.Image", reason="Pillow is not installed")
    run_id = client.create_run("0").info.run_id
    frame = np.zeros((300, 600, 3), dtype=np.uint8)
    client.log_image(run_id, frame, key="val/pred", step=3, timestamp=1700000000000)
    client.log_image(run_id, frame, key="val/pred", step=4)
    names = sorted(f.path for f in client.list_artifacts(run_id, "images"))
    assert len(names) == 4
    first = [n for n in names if "+step+3+" in n]
    webp, png = sorted(first)  # "+" sorts before "."
    base = r"images/val~pred\+step\+3\+timestamp\+1700000000000\+[0-9a-f-]{36}"
    assert re.fullmatch(base + r"\.png", png), png
    assert webp == png.removesuffix(".png") + "+compressed.webp"
    uri = client.get_run(run_id).info.artifact_uri
    assert artifacts.load_image(f"{uri}/{png}").size == (600, 300)
    assert artifacts.load_image(f"{uri}/{webp}").size == (256, 128)
    assert client.get_run(run_id).data.tags["mlflow.loggedImages"] == "true"
    with pytest.raises(InvalidParameterError, match="Invalid image key"):
        client.log_image(run_id, frame, key="bad:key")
