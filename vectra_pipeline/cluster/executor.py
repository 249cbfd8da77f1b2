"""The cluster's executor: every step of a run is a task on an existing Dask cluster.

Dagster's step-delegating executor drives the run (it resolves dynamic fan-outs, honours retry
policies, concurrency pools and run termination) and `DaskStepHandler` hands it each step as one Dask
task that runs the step exactly as `dagster api execute_step` would, in a Dask worker process. The step
writes its events to the instance (PostgreSQL); the executor tails them. A worker that dies mid-step is
Dask's business: its scheduler reruns the task on another worker (`distributed.scheduler.allowed-failures`
times), so the step starts again there. A task Dask gave up on makes the step fail its health check,
which a Dagster retry policy can retry.

dagster-dask's own executor (`dagster_dask.dask_executor`) is not used (decision 0016): it submits
the plan computed before the run starts, so the steps of a dynamic fan-out never run (the run still
reports success), and it keys tasks `<job>.<step>`, so two runs of one job at once share a Dask task."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import dagster as dg
import dask.distributed
from dagster._cli.api import _execute_step_command_body
from dagster._core.definitions.executor_definition import multiple_process_executor_requirements
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.execution.retries import RetryMode, get_retries_config
from dagster._core.executor.step_delegating import StepDelegatingExecutor
from dagster._core.executor.step_delegating.step_handler.base import (
    CheckStepHealthResult,
    StepHandler,
    StepHandlerContext,
)
from dagster._grpc.types import ExecuteStepArgs
from dagster._serdes import deserialize_value, serialize_value

ADDRESS_ENV = "DAGSTER_DASK_ADDRESS"  # tcp://host:port of the Dask scheduler
HEALTH_CHECK_SECONDS = 5  # how often the executor asks Dask whether a running step's task is still alive
_CLIENTS: dict[str, dask.distributed.Client] = {}


def close_clients() -> None:
    """Close this process's Dask clients (a long-lived orchestrating process whose scheduler went away)."""
    while _CLIENTS:
        _CLIENTS.popitem()[1].close(timeout=5)


def run_step(execute_step_args: str) -> str:
    """The Dask task: one step, in the worker process, writing its events to the instance."""
    args = deserialize_value(execute_step_args, ExecuteStepArgs)
    with dg.DagsterInstance.from_ref(args.instance_ref) as instance:
        run = instance.get_run_by_id(args.run_id)
        if run is None:
            raise dg.DagsterInvariantViolationError(f"run {args.run_id} not found in the instance")
        for _event in _execute_step_command_body(args, instance, run):
            pass  # already stored by the step's log manager
    return args.step_keys_to_execute[0]


class DaskStepHandler(StepHandler):
    def __init__(self, address: str) -> None:
        self.address = address
        self._futures: dict[str, dask.distributed.Future] = {}

    @property
    def name(self) -> str:
        return "DaskStepHandler"

    def client(self) -> dask.distributed.Client:
        # one client per scheduler and process, shared by the runs this process orchestrates
        client = _CLIENTS.get(self.address)
        if client is None or client.status in ("closed", "closing"):
            client = _CLIENTS[self.address] = dask.distributed.Client(self.address, set_as_default=False)
        return client

    @staticmethod
    def _step_key(ctx: StepHandlerContext) -> str:
        (step_key,) = ctx.execute_step_args.step_keys_to_execute
        return step_key

    def launch_step(self, step_handler_context: StepHandlerContext) -> Iterator[DagsterEvent]:
        ctx = step_handler_context
        step_key = self._step_key(ctx)
        # unique per launch: a key Dask already holds would hand back the old task (another run's, or
        # this step's previous attempt)
        key = f"{ctx.execute_step_args.run_id}.{step_key}.{uuid.uuid4().hex[:8]}"
        self._futures[step_key] = self.client().submit(run_step, serialize_value(ctx.execute_step_args), key=key,
                                                       pure=False)
        yield DagsterEvent.step_worker_starting(
            ctx.get_step_context(step_key), message=f'Submitting step "{step_key}" to Dask as task {key}.',
            metadata={"dask_task": dg.MetadataValue.text(key), "dask_scheduler": dg.MetadataValue.text(self.address)},
        )

    def check_step_health(self, step_handler_context: StepHandlerContext) -> CheckStepHealthResult:
        future = self._futures.get(self._step_key(step_handler_context))
        if future is None:
            return CheckStepHealthResult.unhealthy("no Dask task of this run's executor runs it")
        if future.status == "error":
            return CheckStepHealthResult.unhealthy(f"the Dask task failed: {future.exception()!r}")
        if future.status == "cancelled":
            return CheckStepHealthResult.unhealthy("the Dask task was cancelled")
        return CheckStepHealthResult.healthy()

    def terminate_step(self, step_handler_context: StepHandlerContext) -> Iterator[DagsterEvent]:
        step_key = self._step_key(step_handler_context)
        future = self._futures.pop(step_key, None)
        if future is not None:
            future.cancel()
        yield DagsterEvent.engine_event(step_handler_context.get_step_context(step_key),
                                        f'Cancelled the Dask task of step "{step_key}".', EngineEventData())


@dg.executor(
    name="dask",
    config_schema={"address": dg.Field(dg.StringSource, description="tcp://host:port of an existing Dask scheduler"),
                   "retries": get_retries_config()},
    requirements=multiple_process_executor_requirements(),
)
def dask_executor(init_context: dg.InitExecutorContext) -> StepDelegatingExecutor:
    """Steps of a run as tasks on an existing Dask cluster (one task per step)."""
    config = init_context.executor_config
    return StepDelegatingExecutor(
        DaskStepHandler(config["address"]),
        retries=RetryMode.from_config(config["retries"]),
        check_step_health_interval_seconds=HEALTH_CHECK_SECONDS,
    )


# the address is read when a run starts, in the process that orchestrates it
cluster_executor = dask_executor.configured({"address": {"env": ADDRESS_ENV}}, name="dask")
