"""A peer in a worker process of its own, run in lock-step with the harness's contenders.

Spinning thread pools (PyTorch's OpenMP, XLA's Eigen pool, OpenBLAS) keep a core busy for a
while after their own work is done, and slow whichever contender runs next on a 2-core
machine. So ``epoch_time`` never imports a peer: each runs in a process of its own
(``python -m benchmarks.worker``), started once per run, and the harness drives it block by
block exactly as it drives its in-process contenders. For each block the parent

1. waits until its own process is idle (``settle``: no thread of it burning CPU),
2. sends "run this block" (the block's sample indices),
3. waits (blocked, not spinning) for the reply: the seconds the worker measured for the block
   (its rebuild on fresh arrays untimed, as for every contender), sent only once the worker's
   own threads are idle again.

Every block, in-process or in a worker, starts from the same state (``ready``): its process's
threads idle, then woken by a ~1 ms untimed burst of small matmuls. Without that, a NumPy
block that followed a worker's block (its BLAS threads asleep, its CPU idle for a while) ran
slower than one that followed another NumPy block, and the NumPy rows moved when peers were
added: by 20-40% for the GEMM-only bound's short blocks (``benchmarks.dev.peer_isolation``
measures it). The contenders still take turns block by block. Messages are pickled tuples over the worker's stdin/stdout
(the worker sends anything a library prints to stderr). A worker that cannot import its
framework answers the first message with the reason, and the harness skips that peer.
"""
from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, BinaryIO, Sequence

import numpy as np

__all__ = ["settle", "wake", "ready", "RemoteContender", "Worker", "WorkerError", "PeerUnavailable", "worker_env"]

ROOT = Path(__file__).resolve().parents[1]


def settle(max_wait: float = 0.5, interval: float = 0.004, idle_share: float = 0.1) -> float:
    """Sleep until this process's threads are idle: CPU time over one ``interval`` below
    ``idle_share`` of it (at most ``max_wait`` seconds). Returns the seconds waited (``max_wait``
    or more if the process never went idle)."""
    start = time.perf_counter()
    while True:
        c0, w0 = time.process_time(), time.perf_counter()
        time.sleep(interval)
        busy = time.process_time() - c0
        now = time.perf_counter()
        if busy < idle_share * (now - w0) or now - start >= max_wait:
            return now - start


_WAKE_A = np.full((192, 192), 0.5, np.float32)
_WAKE_OUT = np.empty_like(_WAKE_A)


def wake() -> None:
    """A short untimed burst (~1 ms) of multithreaded matmuls: this process's BLAS threads and
    the CPUs they run on are awake and running when the timed block starts."""
    for _ in range(4):
        np.matmul(_WAKE_A, _WAKE_A, out=_WAKE_OUT)


def ready() -> None:
    """The state every timed block starts from, whichever contender ran before it and in which
    process: this process idle (``settle``), then awake (``wake``)."""
    settle()
    wake()


# ---------------------------------------------------------------- framing
def send(stream: BinaryIO, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)))
    stream.write(data)
    stream.flush()


def receive(stream: BinaryIO) -> Any:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("worker pipe closed")
    (n,) = struct.unpack("<Q", head)
    data = stream.read(n)
    if len(data) < n:
        raise EOFError("worker pipe closed mid-message")
    return pickle.loads(data)


# ---------------------------------------------------------------- parent side
class WorkerError(RuntimeError):
    """The worker failed; the message carries its traceback."""


class PeerUnavailable(RuntimeError):
    """The worker could not set its peer up (framework missing or broken); the message says why."""


def worker_env(peer: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a worker: the parent's, with this checkout first on ``PYTHONPATH``,
    JAX on the CPU and, unless the caller set them, OpenMP threads that sleep when idle."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # PyTorch's OpenMP threads: sleep, don't spin, when idle
    env.setdefault("JAX_PLATFORMS", "cpu")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(extra or {})
    return env


class Worker:
    """One ``python -m benchmarks.worker`` process hosting one peer."""

    def __init__(self, peer: str, env: dict[str, str] | None = None, stderr: Any = None) -> None:
        self.peer = peer
        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=stderr, env=env or worker_env(peer),
                                     cwd=str(ROOT))
        self.info = self.call("hello", peer)

    def call(self, command: str, *args: Any) -> Any:
        try:
            send(self.proc.stdin, (command, args))
            status, value = receive(self.proc.stdout)
        except (BrokenPipeError, EOFError) as e:
            code = self.proc.poll()
            raise WorkerError(f"worker for {self.peer} died (exit code {code}) during {command!r}: {e}") from None
        if status == "unavailable":
            raise PeerUnavailable(value)
        if status == "error":
            raise WorkerError(f"worker for {self.peer}, {command!r}:\n{value}")
        return value

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                send(self.proc.stdin, ("quit", ()))
                self.proc.wait(timeout=10)
            except (BrokenPipeError, OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


class RemoteContender:
    """The parent's handle on a peer in a ``Worker``: the ``Contender`` interface the harness
    uses (``run_block``, ``epoch``, ``reset``, ``weights``, ``gradients``), each a message."""

    local = False

    def __init__(self, worker: Worker, sizes: Sequence[int], batch: int, lr: float,
                 init: Sequence[np.ndarray], **options: Any) -> None:
        self.worker, self.batch = worker, batch
        self.name = worker.info["name"]
        self.settle_s: list[float] = []  # per block: how long the worker's threads took to go idle
        self.unsettled = 0  # blocks after which they did not within the limit
        worker.call("config", list(sizes), batch, lr, [np.asarray(p) for p in init], options)

    def run_block(self, part: np.ndarray) -> float:
        settle()  # this process's own threads (OpenBLAS after a NumPy contender) idle first
        seconds, waited, quiet = self.worker.call("block", np.asarray(part))
        self.settle_s.append(waited)
        self.unsettled += not quiet
        return seconds

    def epoch(self, order: np.ndarray) -> float:
        return self.worker.call("epoch", np.asarray(order))

    def reset(self, params: Sequence[np.ndarray] | None = None) -> None:
        self.worker.call("reset", None if params is None else [np.asarray(p) for p in params])

    def weights(self) -> list[np.ndarray]:
        return self.worker.call("weights")

    def gradients(self, xb: np.ndarray, yb: np.ndarray) -> list[np.ndarray]:
        return self.worker.call("gradients", xb, yb)

    def close(self) -> None:
        """The worker stays up for the next configuration (``Worker.close`` ends it)."""


# ---------------------------------------------------------------- worker side
SETTLE_MAX = 0.5


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    from . import peers

    state: dict[str, Any] = {}
    while True:
        try:
            command, args = receive(inp)
        except EOFError:
            return
        if command == "quit":
            return
        try:
            if command == "hello":
                (name,) = args
                peer = peers.by_name(name)
                try:
                    version = peer.version()
                except Exception as e:  # noqa: BLE001 - missing or broken: skip the peer
                    send(out, ("unavailable", f"{peer.name}: {e.__class__.__name__}: {e}"))
                    continue
                state["peer"] = peer
                value: Any = {"name": peer.name, "version": version, "pid": os.getpid()}
            elif command == "data":
                (path,) = args
                with np.load(path) as f:
                    state["X"], state["y"] = f["X"], f["y"]
                value = [state["X"].shape, state["y"].shape]
            elif command == "config":
                sizes, batch, lr, init, options = args
                old = state.pop("contender", None)
                del old
                state["contender"] = state["peer"](sizes, batch, state["X"], state["y"], lr=lr, init=init, **options)
                value = None
            elif command == "block":
                (part,) = args
                wake()  # (this process is idle: it waited for this message)
                seconds = state["contender"].run_block(part)
                waited = settle(SETTLE_MAX)
                value = (seconds, waited, waited < SETTLE_MAX)
            elif command == "epoch":
                value = state["contender"].epoch(args[0])
                settle(SETTLE_MAX)
            elif command == "reset":
                value = state["contender"].reset(args[0])
            elif command == "weights":
                value = [np.array(w, copy=True) for w in state["contender"].weights()]
            elif command == "gradients":
                xb, yb = (np.array(a, copy=True) for a in args)  # own memory (an unpickled array's base is a buffer)
                value = [np.array(g, copy=True) for g in state["contender"].gradients(xb, yb)]
            else:
                raise ValueError(f"unknown command {command!r}")
        except Exception:  # noqa: BLE001 - reported to the parent, which raises it
            send(out, ("error", traceback.format_exc()))
            continue
        send(out, ("ok", value))


def main() -> None:
    # The protocol owns the original stdout; whatever a library prints goes to stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    serve(sys.stdin.buffer, out)


if __name__ == "__main__":
    main()
