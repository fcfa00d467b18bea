"""MlflowClient usage as users write it: explicit experiment and run, a folder of artifacts,
listing and downloading them back, a search, and MLflow's exception class."""

import os
import sys
import tempfile

from mlflow.entities import FileInfo, RunStatus, ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

client = MlflowClient()
experiment_id = client.create_experiment(sys.argv[1])
run = client.create_run(experiment_id, run_name="client-run")
run_id = run.info.run_id
client.log_param(run_id, "optimizer", "adam")
for step in range(3):
    client.log_metric(run_id, "accuracy", 0.8 + step / 100, step=step)

with tempfile.TemporaryDirectory() as tmp:
    os.makedirs(os.path.join(tmp, "plots"))
    for name in ("a.csv", "b.csv"):
        with open(os.path.join(tmp, "plots", name), "w") as f:
            f.write("x,y\n1,2\n")
    client.log_artifacts(run_id, tmp, artifact_path="outputs")

listing = client.list_artifacts(run_id, "outputs/plots")
assert all(isinstance(info, FileInfo) for info in listing)
print("LISTED", [(info.path, info.is_dir, info.file_size) for info in listing])
with tempfile.TemporaryDirectory() as dst:
    local = client.download_artifacts(run_id, "outputs/plots/a.csv", dst)
    with open(local) as downloaded:
        print("DOWNLOADED", downloaded.read().strip().replace("\n", "|"))

client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
found = client.search_runs([experiment_id], "params.optimizer = 'adam'", ViewType.ACTIVE_ONLY)
print("FOUND", [r.info.run_id == run_id for r in found])
try:
    client.get_run("0" * 32)
except MlflowException as error:
    print("CAUGHT", error.error_code)
