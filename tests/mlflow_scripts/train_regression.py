"""A training script in the style of MLflow's examples: argparse, params, per-epoch metrics,
a config dict, a text report and a model file logged as artifacts."""

import argparse
import json
import os
import random
import tempfile

import mlflow


def train(alpha: float, epochs: int) -> list[float]:
    random.seed(0)
    loss = 1.0
    history = []
    for _ in range(epochs):
        loss = loss * (1 - alpha) + random.random() * 0.01
        history.append(loss)
    return history


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()

    mlflow.set_experiment("regression-demo")
    with mlflow.start_run(run_name="baseline") as run:
        mlflow.log_params({"alpha": args.alpha, "epochs": args.epochs})
        mlflow.set_tag("model_type", "linear")
        history = train(args.alpha, args.epochs)
        for step, loss in enumerate(history):
            mlflow.log_metric("loss", loss, step=step)
        mlflow.log_metric("final_loss", history[-1])
        mlflow.log_dict({"alpha": args.alpha, "layers": [8, 4]}, "config/params.json")
        mlflow.log_dict({"alpha": args.alpha}, "config/params.yaml")
        mlflow.log_text(f"final loss {history[-1]:.4f}\n", "report.txt")
        with tempfile.TemporaryDirectory() as tmp:
            model_path = os.path.join(tmp, "model.json")
            with open(model_path, "w") as f:
                json.dump({"weights": [0.1, 0.2]}, f)
            mlflow.log_artifact(model_path, artifact_path="model")
        print("RUN_ID", run.info.run_id)
        print("ARTIFACT_URI", mlflow.get_artifact_uri())


if __name__ == "__main__":
    main()
