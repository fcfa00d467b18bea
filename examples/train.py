"""A small training sweep logged with runstack, then read back and summarised.

It fits a logistic-regression classifier by gradient descent on synthetic data (pure Python,
no ML framework), once per learning rate. A parent run holds the sweep; each learning rate
is a nested child run with its params and per-epoch metrics. At the end the script reads the
runs back from the store and prints what it finds.

Run it with ``python examples/train.py``; it logs to ``./runstack.db`` unless
``MLFLOW_TRACKING_URI`` says otherwise. Note that only ``import runstack as mlflow`` ties it
to runstack: the rest is plain MLflow API.
"""

from __future__ import annotations

import math
import random

import runstack as mlflow

EPOCHS = 30
LEARNING_RATES = (0.01, 0.1, 0.5)


def make_data(n: int, seed: int) -> list[tuple[list[float], int]]:
    """Two Gaussian blobs in 2-D, labelled 0 and 1."""
    rng = random.Random(seed)
    data = []
    for _ in range(n):
        label = rng.random() < 0.5
        centre = (1.0, 1.0) if label else (-1.0, -0.5)
        point = [centre[0] + rng.gauss(0, 1.0), centre[1] + rng.gauss(0, 1.0)]
        data.append((point, int(label)))
    return data


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def evaluate(weights: list[float], data: list[tuple[list[float], int]]) -> tuple[float, float]:
    """(mean log-loss, accuracy) of the model on ``data``."""
    loss, correct = 0.0, 0
    for x, y in data:
        p = sigmoid(weights[0] + weights[1] * x[0] + weights[2] * x[1])
        loss -= y * math.log(p + 1e-12) + (1 - y) * math.log(1 - p + 1e-12)
        correct += int((p >= 0.5) == bool(y))
    return loss / len(data), correct / len(data)


def train(
    lr: float, train_set: list[tuple[list[float], int]], valid_set: list[tuple[list[float], int]]
) -> float:
    """One child run: log params, then metrics every epoch. Returns validation accuracy."""
    with mlflow.start_run(run_name=f"lr-{lr}", nested=True):
        mlflow.log_params({"learning_rate": lr, "epochs": EPOCHS, "model": "logistic"})
        weights = [0.0, 0.0, 0.0]
        accuracy = 0.0
        for epoch in range(EPOCHS):
            grad = [0.0, 0.0, 0.0]
            for x, y in train_set:
                error = sigmoid(weights[0] + weights[1] * x[0] + weights[2] * x[1]) - y
                grad[0] += error
                grad[1] += error * x[0]
                grad[2] += error * x[1]
            weights = [w - lr * g / len(train_set) for w, g in zip(weights, grad, strict=True)]
            train_loss, _ = evaluate(weights, train_set)
            valid_loss, accuracy = evaluate(weights, valid_set)
            mlflow.log_metrics(
                {"train_loss": train_loss, "valid_loss": valid_loss, "valid_accuracy": accuracy},
                step=epoch,
            )
        mlflow.set_tag("weights", ", ".join(f"{w:.3f}" for w in weights))
        # The trained model itself, as an artifact of the run.
        mlflow.log_dict({"bias": weights[0], "weights": weights[1:]}, "model/weights.json")
        return accuracy


def _artifact_files(client: mlflow.MlflowClient, run_id: str, path: str | None = None) -> str:
    """The run's artifact files, listed folder by folder from the artifact store."""
    names = []
    for entry in client.list_artifacts(run_id, path):
        names.append(_artifact_files(client, run_id, entry.path) if entry.is_dir else entry.path)
    return ", ".join(names)


def summarise(sweep_id: str) -> None:
    """Read the sweep back from the store and print it."""
    client = mlflow.MlflowClient()
    sweep = client.get_run(sweep_id)
    experiment = client.get_experiment(sweep.info.experiment_id)
    children = [
        run
        for run in client.search_runs([experiment.experiment_id])
        if run.data.tags.get("mlflow.parentRunId") == sweep_id
    ]
    print(f"\nStore:      {mlflow.get_tracking_uri()}")
    print(f"Experiment: {experiment.name} (id {experiment.experiment_id})")
    print(f"Sweep run:  {sweep.info.run_name} [{sweep.info.status}] {sweep_id}")
    print(
        f"            best_lr={sweep.data.params['best_lr']} "
        f"best_accuracy={sweep.data.metrics['best_accuracy']:.3f}"
    )
    print(
        f"\n  {'child run':<10} {'status':<9} {'lr':>5} {'epochs':>6} "
        f"{'train_loss':>10} {'valid_acc':>9} {'points':>6}  artifacts"
    )
    for run in sorted(children, key=lambda r: float(r.data.params["learning_rate"])):
        history = client.get_metric_history(run.info.run_id, "train_loss")
        print(
            f"  {run.info.run_name:<10} {run.info.status:<9} "
            f"{run.data.params['learning_rate']:>5} {run.data.params['epochs']:>6} "
            f"{run.data.metrics['train_loss']:>10.4f} {run.data.metrics['valid_accuracy']:>9.3f} "
            f"{len(history):>6}  {_artifact_files(client, run.info.run_id)}"
        )
    all_runs = client.search_runs([experiment.experiment_id], max_results=1000)
    print(f"\n{len(all_runs)} runs in this experiment so far (each execution adds 4).")


def main() -> None:
    mlflow.set_experiment("logistic-regression-demo")
    train_set, valid_set = make_data(400, seed=1), make_data(200, seed=2)
    with mlflow.start_run(run_name="lr-sweep", description="Learning-rate sweep") as sweep:
        mlflow.log_param("learning_rates", ",".join(map(str, LEARNING_RATES)))
        results = {lr: train(lr, train_set, valid_set) for lr in LEARNING_RATES}
        best = max(results, key=lambda lr: results[lr])
        mlflow.log_param("best_lr", best)
        mlflow.log_metric("best_accuracy", results[best])
        print(f"Logged {len(LEARNING_RATES)} child runs under {sweep.info.run_id}")
    summarise(sweep.info.run_id)


if __name__ == "__main__":
    main()
