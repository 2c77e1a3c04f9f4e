"""Multi-process runs: `jax.distributed` set up from flags, environment variables or SLURM.

Settings come from, in order: explicit values (CLI flags), the variables
`DO1RL_COORDINATOR_ADDRESS`, `DO1RL_NUM_PROCESSES`, `DO1RL_PROCESS_ID`, or,
when none is given, JAX's own cluster detection (SLURM, Open MPI). See
docs/distributed.md.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

from do1rl.core.checks import is_integer

__all__ = [
    "ENV_COORDINATOR",
    "ENV_NUM_PROCESSES",
    "ENV_PROCESS_ID",
    "Cluster",
    "DistributedError",
    "any_process",
    "initialize",
    "is_main_process",
    "local_value",
    "requested",
    "resolve",
]

ENV_COORDINATOR = "DO1RL_COORDINATOR_ADDRESS"
ENV_NUM_PROCESSES = "DO1RL_NUM_PROCESSES"
ENV_PROCESS_ID = "DO1RL_PROCESS_ID"

# A process that stops sending heartbeats this long is declared dead and the job ends
# (JAX's default, 100 s, is long for a lost peer); shutdown waits this long for the others.
HEARTBEAT_TIMEOUT_S = 20
SHUTDOWN_TIMEOUT_S = 30
# JAX's own registration deadline is this much past `init_timeout`, so the watchdog answers first: when it
# passes, XLA aborts the process (SIGABRT and a native stack trace) rather than raising.
_XLA_GRACE_S = 10
DISTRIBUTED_FAILURE = 4  # the exit status of a distributed run that cannot start or loses a process


class DistributedError(RuntimeError):
    """A distributed run could not be set up or lost a process (message is one line)."""


@dataclasses.dataclass(frozen=True)
class Cluster:
    """How this process joins a run; `None` fields are left to JAX's cluster detection.

    Attributes:
      coordinator: "host:port" of process 0's coordination service.
      num_processes: processes in the run.
      process_id: this process, in 0..num_processes-1.
      init_timeout: seconds to wait for the coordinator and every process.
    """

    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None
    init_timeout: int = 300


def _slurm_tasks(environ: Mapping[str, str]) -> int:
    """Tasks of the `srun` job step this process belongs to (0 outside one, e.g. in the batch script itself)."""
    if "SLURM_PROCID" not in environ or "SLURM_STEP_NODELIST" not in environ:
        return 0
    try:
        return int(environ.get("SLURM_STEP_NUM_TASKS") or 0)
    except ValueError:
        return 0


def requested(flag: bool, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether to run distributed: `--distributed`, DO1RL_COORDINATOR_ADDRESS set, or a SLURM step of 2+ tasks."""
    return bool(flag) or bool(environ.get(ENV_COORDINATOR)) or _slurm_tasks(environ) > 1


def _int_setting(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise DistributedError(f"{name} must be an integer, got {value!r}") from None
    if not is_integer(value):
        raise DistributedError(f"{name} must be an integer, got {value!r}")
    return int(value)


def _split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise DistributedError(f"coordinator address must be HOST:PORT (port 1..65535), got {address!r}")
    return host.strip("[]"), int(port)


def resolve(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    init_timeout: int = 300,
    environ: Mapping[str, str] = os.environ,
) -> Cluster:
    """The `Cluster` of this process from explicit values, then DO1RL_* variables, then SLURM.

    Raises `DistributedError` on partial or invalid settings.
    """
    coordinator = coordinator or environ.get(ENV_COORDINATOR) or None
    num_processes = _int_setting(num_processes if num_processes is not None else environ.get(ENV_NUM_PROCESSES), "number of processes")
    process_id = _int_setting(process_id if process_id is not None else environ.get(ENV_PROCESS_ID), "process id")
    timeout = _int_setting(init_timeout, "init timeout")
    if timeout is None or timeout < 1:
        raise DistributedError(f"init timeout must be >= 1 second, got {init_timeout!r}")
    given = [coordinator is not None, num_processes is not None, process_id is not None]
    if not any(given):
        if _slurm_tasks(environ) < 1:
            raise DistributedError(
                f"distributed run without a coordinator: give --coordinator HOST:PORT, --num-processes N and "
                f"--process-id I (or {ENV_COORDINATOR}, {ENV_NUM_PROCESSES}, {ENV_PROCESS_ID}), or launch with srun"
            )
        return Cluster(init_timeout=timeout)  # SLURM: JAX reads the job's variables
    if coordinator is None or num_processes is None or process_id is None:  # not all given
        raise DistributedError(
            "give the coordinator address, the number of processes and the process id together "
            f"(--coordinator, --num-processes, --process-id or {ENV_COORDINATOR}, {ENV_NUM_PROCESSES}, {ENV_PROCESS_ID})"
        )
    _split_address(coordinator)
    if num_processes < 1:
        raise DistributedError(f"number of processes must be >= 1, got {num_processes}")
    if not 0 <= process_id < num_processes:
        raise DistributedError(f"process id must be in 0..{num_processes - 1}, got {process_id}")
    return Cluster(coordinator, num_processes, process_id, timeout)


def _wait_for_coordinator(address: str, timeout: float) -> None:
    """Returns once something accepts TCP connections at `address`; DistributedError after `timeout` s."""
    host, port = _split_address(address)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=min(5.0, timeout)):
                return
        except OSError as err:
            if time.monotonic() >= deadline:
                raise DistributedError(
                    f"no coordinator at {address} after {timeout:g} s ({err.strerror or err}); start process 0 "
                    "with the same --coordinator, and check the address, port and firewall"
                ) from None
        time.sleep(0.25)


def _check_port_free(address: str) -> None:
    """DistributedError if the coordinator's port is taken on this host (JAX may crash binding it)."""
    _, port = _split_address(address)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("", port))
        except OSError as err:
            raise DistributedError(
                f"process 0 cannot serve the coordinator on port {port} ({err.strerror or err}); choose another free port"
            ) from None


def initialize(cluster: Cluster) -> None:
    """Joins the run: gloo collectives on CPU, then `jax.distributed.initialize` with bounded timeouts.

    Must run before anything touches a JAX device. Process 0 first checks
    that the coordinator's port is free; the others wait (up to
    `init_timeout`) for the coordinator to accept connections; so a taken
    port or a missing coordinator is a `DistributedError`, not a crash
    inside JAX.
    """
    if cluster.coordinator is not None and cluster.process_id == 0:
        _check_port_free(cluster.coordinator)
    elif cluster.coordinator is not None:
        _wait_for_coordinator(cluster.coordinator, cluster.init_timeout)
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU collectives across processes
    watchdog = threading.Timer(cluster.init_timeout, _never_joined, args=(cluster,))
    watchdog.daemon = True
    watchdog.start()
    try:
        jax.distributed.initialize(
            coordinator_address=cluster.coordinator,
            num_processes=cluster.num_processes,
            process_id=cluster.process_id,
            initialization_timeout=cluster.init_timeout + _XLA_GRACE_S,
            heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT_S,
            shutdown_timeout_seconds=SHUTDOWN_TIMEOUT_S,
        )
    except (RuntimeError, ValueError) as err:
        raise DistributedError(f"jax.distributed.initialize failed: {str(err).splitlines()[0]}") from None
    finally:
        watchdog.cancel()


def _never_joined(cluster: Cluster) -> None:
    """The watchdog: not every process joined within `init_timeout`; one line and exit 4, before XLA aborts."""
    print(
        f"error: not all {cluster.num_processes} processes joined the run at {cluster.coordinator} within "
        f"--init-timeout {cluster.init_timeout:g} s; start every process with the same --coordinator and "
        f"--num-processes",
        file=sys.stderr,
        flush=True,
    )
    os._exit(DISTRIBUTED_FAILURE)  # the main thread is blocked inside JAX: nothing else can end the process


def is_main_process() -> bool:
    """True on process 0, the one that writes the run folder's shared files."""
    import jax

    return jax.process_index() == 0


def local_value(tree: Any) -> Any:
    """Host (numpy) copies of replicated arrays, readable on every process."""
    import jax
    import numpy as np

    def one(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            x = x.addressable_data(0)
        return np.asarray(x)

    return jax.tree.map(one, tree)


def any_process(flag: bool) -> bool:
    """True if `flag` is true on any process (every process must call it)."""
    import jax
    import numpy as np

    if jax.process_count() == 1:
        return bool(flag)
    from jax.experimental import multihost_utils

    return bool(np.any(multihost_utils.process_allgather(np.int32(bool(flag)))))
