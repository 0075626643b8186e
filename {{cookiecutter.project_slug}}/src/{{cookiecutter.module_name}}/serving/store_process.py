"""The prediction log's store in a child process: SQL writes that never share the API's interpreter.

The API's writer thread (prediction_log.py) used to run the INSERTs itself. Even with no per-row
Python work, a second thread in the serving process costs the event loop: each time it needs the
interpreter lock (GIL) back, the loop has to hand it over, and the loop is the API's bottleneck.
Measured per request under `benchmarks/monitoring_bench.py`, the loop's thread spent 8-18 µs more
with logging on, several times what the logging code itself costs there.

So the API starts this module as a child process (`python -m <package>.store_process URL`) and
`StoreProcess.write` only ships each batch of requests down a pipe — marshal-encoded, in C, the lock
released while it waits — and reads back whether the child wrote them. The child owns the
database connection and does the SQL work. A failure in the child (database down, child killed)
comes back as an exception from `write`, so the log's retry and counting rules stay in one place
(PredictionLog); a child that died is started again on the next write.

Frames both ways: a 4-byte little-endian length, then a marshal payload. The pipe is private to
the two processes, so marshal (fast, but not for untrusted input) is safe here.
"""

from __future__ import annotations

import marshal
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

from .prediction_table import Context, PredictionStore

NICENESS = 10  # the writer's scheduling priority below the API's (Unix)
SRC = Path(__file__).resolve().parents[1]  # where the package lives, for the child's import path


class StoreProcessError(RuntimeError):
    """The child process failed to write (the message is its error) or is gone."""


class StoreProcess:
    """PredictionStore's write interface, carried out by a child process that owns the connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._process: subprocess.Popen[bytes] | None = None
        self._closed = False

    def connect(self) -> None:
        """Start the child and have it connect (creating the table): a bad URL fails here, early."""
        self._call(("connect",))

    def write(self, context: Context, requests: bytes) -> None:
        """Have the child insert these requests' rows in one transaction; raise if it could not."""
        self._call(("write", context, requests))

    def dispose(self) -> None:
        """Close the child's input: it closes its connection and exits. No child starts after this."""
        self._closed = True
        process, self._process = self._process, None
        if process is None:
            return
        try:
            process.stdin.close()  # type: ignore[union-attr]
            process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()

    def _call(self, request: tuple[Any, ...]) -> Any:
        process = self._start()
        try:
            _send(process.stdin, request)  # type: ignore[arg-type]
            status, detail = _receive(process.stdout)  # type: ignore[arg-type]
        except (OSError, EOFError, ValueError) as exc:
            self._process = None
            _end(process)
            raise StoreProcessError(
                f"the prediction log's writer process stopped (exit code {process.returncode}); "
                "it is restarted on the next write"
            ) from exc
        if status != "ok":
            raise StoreProcessError(detail)
        return detail

    def _start(self) -> subprocess.Popen[bytes]:
        if self._closed:
            raise StoreProcessError("the prediction log's writer process was stopped (shutdown)")
        if self._process is not None and self._process.poll() is not None:
            _end(self._process)  # it died: close its pipes before starting another
            self._process = None
        if self._process is None:
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
            }
            self._process = subprocess.Popen(
                [sys.executable, "-m", __spec__.name, self.url],  # type: ignore[name-defined]
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
        return self._process


def _end(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()


def _send(stream: IO[bytes], payload: Any) -> None:
    frame = marshal.dumps(payload)
    stream.write(len(frame).to_bytes(4, "little") + frame)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    head = stream.read(4)
    if len(head) < 4:
        raise EOFError("the other process closed the pipe")
    size = int.from_bytes(head, "little")
    frame = stream.read(size)
    if len(frame) < size:
        raise EOFError("the other process closed the pipe mid-frame")
    return marshal.loads(frame)


def serve(url: str, requests: IO[bytes], replies: IO[bytes]) -> None:
    """The child's loop: carry out each request until the parent closes the pipe."""
    store = PredictionStore(url)
    try:
        while True:
            try:
                request = _receive(requests)
            except EOFError:
                return
            try:
                if request[0] == "connect":
                    store.connect()
                else:  # ("write", context, requests)
                    store.write(request[1], request[2])
                _send(replies, ("ok", None))
            except Exception as exc:  # reported to the parent, which keeps the rows and retries
                lines = str(exc).splitlines()
                _send(replies, ("error", lines[0] if lines else type(exc).__name__))
    finally:
        store.dispose()


def main() -> None:
    # Ctrl+C reaches the whole process group: the parent decides when to stop (it flushes the
    # log first, then closes the pipe), so the child must outlive the interrupt.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Below the API's priority: when both want the CPU, the API's answers come first, and the
    # log catches up from its buffer (it needs a few percent of a core at thousands of req/s).
    if hasattr(os, "nice"):
        os.nice(NICENESS)
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr  # anything printed goes to the log, never into the replies
    serve(sys.argv[1], sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
