"""The active-run stack lives in contextvars (SPEC §4): each thread starts empty, and each
asyncio task works on its own copy, so concurrent tasks never end each other's runs."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import runstack
from readback import fresh_client
from runstack.session import stack as context

PARENT = "mlflow.parentRunId"


def _in_thread(work: Callable[[], Any]) -> Any:
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = work()
        except BaseException as error:  # re-raised in the caller
            result["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    if "error" in result:
        raise result["error"]
    return result.get("value")


def test_a_new_thread_sees_no_active_run(tracking: str) -> None:
    with runstack.start_run() as run:
        seen = _in_thread(lambda: (runstack.active_run(), runstack.last_active_run()))
        assert seen == (None, None)
        assert runstack.active_run() is run


def test_a_thread_starts_its_own_top_level_run(tracking: str) -> None:
    outer = runstack.start_run()

    def work() -> tuple[str, str | None]:
        with runstack.start_run() as mine:  # no RunAlreadyActiveError: its stack is empty
            assert runstack.active_run() is mine
        return mine.info.run_id, runstack.last_active_run().info.run_id

    run_id, last = _in_thread(work)
    assert last == run_id
    stored = fresh_client().get_run(run_id)
    assert stored.info.status == "FINISHED"
    assert PARENT not in stored.data.tags
    # The thread's runs never touched this thread's stack or last run.
    assert context.active_runs() == (outer,)
    runstack.end_run()
    assert runstack.last_active_run().info.run_id == outer.info.run_id


def test_a_thread_ending_runs_does_not_end_ours(tracking: str) -> None:
    run = runstack.start_run()
    _in_thread(lambda: runstack.end_run())  # no run in that thread: a no-op
    assert runstack.active_run() is run
    assert fresh_client().get_run(run.info.run_id).info.status == "RUNNING"


def test_logging_in_a_worker_thread_auto_starts_there(tracking: str) -> None:
    run = runstack.start_run()

    def work() -> str:
        runstack.log_metric("m", 1.0)
        return runstack.active_run().info.run_id

    other_id = _in_thread(work)
    assert other_id != run.info.run_id
    assert fresh_client().get_run(other_id).data.metrics == {"m": 1.0}
    assert fresh_client().get_run(run.info.run_id).data.metrics == {}
    assert runstack.active_run() is run


def test_concurrent_tasks_have_their_own_nested_runs(tracking: str) -> None:
    outer = runstack.start_run()
    seen: dict[str, dict[str, Any]] = {"first": {}, "second": {}}

    async def main() -> None:
        both_started = asyncio.Event()
        first_done = asyncio.Event()

        async def task(name: str) -> None:
            record = seen[name]
            with runstack.start_run(nested=True) as child:
                record["child"] = child
                if all("child" in r for r in seen.values()):
                    both_started.set()
                await both_started.wait()
                record["active"] = runstack.active_run()
                record["stack"] = context.active_runs()
                if name == "second":
                    await first_done.wait()  # the first task has left its block by now
                    record["still_running"] = fresh_client().get_run(child.info.run_id).info
                    record["active_later"] = runstack.active_run()
                runstack.log_metric(name, 1.0)
            record["after"] = runstack.active_run()
            if name == "first":
                first_done.set()

        await asyncio.gather(task("first"), task("second"))

    asyncio.run(main())
    client = fresh_client()
    first, second = seen["first"]["child"], seen["second"]["child"]
    assert first.info.run_id != second.info.run_id
    assert seen["second"]["still_running"].status == "RUNNING"
    assert seen["second"]["active_later"] is second
    for name, child in (("first", first), ("second", second)):
        record = seen[name]
        assert record["active"] is child
        assert record["stack"] == (outer, child)
        assert record["after"] is outer
        stored = client.get_run(child.info.run_id)
        assert stored.data.tags[PARENT] == outer.info.run_id  # not the other task's run
        assert stored.info.status == "FINISHED"
        assert stored.data.metrics == {name: 1.0}  # logged to its own run only
    assert runstack.active_run() is outer
    assert client.get_run(outer.info.run_id).info.status == "RUNNING"


def test_a_failing_task_fails_only_its_own_run(tracking: str) -> None:
    outer = runstack.start_run()
    runs: dict[str, str] = {}

    async def ok() -> None:
        with runstack.start_run(nested=True) as run:
            runs["ok"] = run.info.run_id
            await asyncio.sleep(0.01)

    async def failing() -> None:
        with runstack.start_run(nested=True) as run:
            runs["failing"] = run.info.run_id
            await asyncio.sleep(0)
            raise RuntimeError("task failed")

    async def main() -> list[Any]:
        return await asyncio.gather(ok(), failing(), return_exceptions=True)

    outcomes = asyncio.run(main())
    assert outcomes[0] is None and isinstance(outcomes[1], RuntimeError)
    client = fresh_client()
    assert client.get_run(runs["ok"]).info.status == "FINISHED"
    assert client.get_run(runs["failing"]).info.status == "FAILED"
    assert runstack.active_run() is outer
    assert client.get_run(outer.info.run_id).info.status == "RUNNING"


def test_a_task_sees_the_stack_as_it_was_when_created(tracking: str) -> None:
    async def look() -> Any:
        return runstack.active_run()

    async def main() -> tuple[Any, Any, Any]:
        outer = runstack.start_run()
        seen_inside = await asyncio.create_task(look())
        runstack.end_run()
        seen_after = await asyncio.create_task(look())
        return outer, seen_inside, seen_after

    outer, inside, after = asyncio.run(main())
    assert inside is outer
    assert after is None
