"""Regenerate the screenshots in docs/ui.md: seed a demo store, serve it with
`runstack server`, and photograph each page with Chromium (Debian's /usr/bin/chromium).

    .venv/bin/python scripts/ui_screenshots.py [--out docs/img] [--dark]

The data is made up (a small learning-rate sweep with nested trials); nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from runstack import TrackingClient
from runstack.entities import Metric

# The browser and the server child come from tests/browser_kit.py, the one home of both for
# the tests, the benchmarks and this script (it imports nothing of pytest).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from browser_kit import launch, runstack_server

DESCRIPTION = """## Learning-rate sweep

Trains a small CNN on **MNIST** for 300 steps; see the `loss` curve.

- optimizer: *adam* or *sgd*
- notes: [runbook](https://example.org/runbook)
"""


def seed(uri: str) -> dict[str, str]:
    """A sweep experiment with a parent run and trials, plus a second, small experiment."""
    client = TrackingClient(uri)
    rng = random.Random(7)
    exp = client.create_experiment("mnist-sweep", tags={"team": "vision", "dataset": "mnist"})
    client.create_experiment("tokenizer-ablation", tags={"team": "nlp"})
    start = int(time.time() * 1000) - 3_600_000
    parent = client.create_run(exp, run_name="sweep-2026-12", start_time=start)
    client.set_tag(parent.info.run_id, "mlflow.note.content", DESCRIPTION)
    client.set_tag(parent.info.run_id, "mlflow.source.name", "train_sweep.py")
    ids = {"parent": parent.info.run_id}
    trials = []
    for i, (lr, opt) in enumerate([(lr, o) for lr in (0.1, 0.03, 0.01) for o in ("adam", "sgd")]):
        t0 = start + 60_000 * (i + 1)
        run = client.create_run(
            exp, run_name=f"trial-{i}-{opt}-lr{lr}", start_time=t0, parent_run_id=parent.info.run_id
        )
        rid = run.info.run_id
        trials.append(rid)
        client.set_tag(rid, "mlflow.source.name", "train.py")
        client.set_tag(rid, "mlflow.source.git.commit", "3f9c2e1a7b")
        floor = 0.05 + 0.4 * abs(math.log10(lr) + 1.6) + (0.05 if opt == "sgd" else 0)
        metrics = []
        for step in range(300):
            loss = floor + 2.3 * math.exp(-step / (40 + 30 * i)) + rng.gauss(0, 0.03)
            metrics.append(Metric("loss", loss, t0 + step * 900, step))
            if step % 10 == 0:
                acc = 1 - loss / 2.5 + rng.gauss(0, 0.005)
                metrics.append(Metric("accuracy", acc, t0 + step * 900, step))
        client.log_batch(rid, metrics=metrics)
        for key, value in {"lr": lr, "optimizer": opt, "batch_size": 64, "epochs": 3}.items():
            client.log_param(rid, key, value)
        if i == 5:
            client.set_terminated(rid, "FAILED", t0 + 300 * 900)
        elif i != 4:
            client.set_terminated(rid, "FINISHED", t0 + 300 * 900)
    client.set_terminated(parent.info.run_id, "FINISHED", start + 900_000)
    ids["trials"] = ",".join(trials)
    ids["experiment"] = exp
    return ids


def shoot(url: str, ids: dict[str, str], out: Path, dark: bool) -> list[Path]:
    from playwright.sync_api import sync_playwright

    exp = ids["experiment"]
    trials = ids["trials"].split(",")
    pages = {
        "experiments": "/#/",
        "runs": f"/#/experiments/{exp}?col=m:loss&col=p:lr&col=p:optimizer",
        "run": f"/#/runs/{trials[0]}?smooth=0.6",
        "compare": f"/#/compare?exp={exp}&runs={','.join(trials)}"
        "&group=optimizer&sx=p:lr&sy=m:loss&pc=loss",
    }
    shots = []
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(
            viewport={"width": 1280, "height": 860}, color_scheme="dark" if dark else "light"
        )
        for name, path in pages.items():
            page.goto(url + path)
            page.wait_for_load_state("networkidle")
            if name == "runs":
                page.get_by_role("button", name="Expand 6 child runs").click()
                page.wait_for_load_state("networkidle")
            time.sleep(0.5)
            target = out / f"ui-{name}{'-dark' if dark else ''}.png"
            page.screenshot(path=str(target))
            shots.append(target)
        browser.close()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/img", type=Path)
    parser.add_argument("--dark", action="store_true", help="the dark theme instead")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/demo.db"
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        ids = seed(uri)
        with runstack_server(uri) as url:
            for path in shoot(url, ids, args.out, args.dark):
                print(path, path.stat().st_size // 1024, "KB")


if __name__ == "__main__":
    main()
