"""Nested runs, mlflow.artifacts' loaders and a failing child that marks its run FAILED."""

import mlflow
import mlflow.artifacts

with mlflow.start_run(run_name="parent") as parent:
    mlflow.log_dict({"grid": [1, 2]}, "grid.json")
    for value in (1, 2):
        with mlflow.start_run(run_name=f"child-{value}", nested=True):
            mlflow.log_param("value", value)
    uri = mlflow.get_artifact_uri("grid.json")
    print("LOADED", mlflow.artifacts.load_dict(uri))
    print("LISTED", [f.path for f in mlflow.artifacts.list_artifacts(run_id=parent.info.run_id)])
    print("PARENT", parent.info.run_id)

mlflow.start_run(run_name="crashes")
print("CRASHING", mlflow.active_run().info.run_id, flush=True)
raise RuntimeError("training diverged")
