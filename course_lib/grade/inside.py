"""Runs in the sandbox: execute a submission's cells in a Jupyter kernel, then collect.

    python -m course_lib.grade.inside JOB.json

JOB.json (written by the grader): ``cells`` [[number, source]], ``names`` (graded functions),
``calls`` (folder of one sub-folder of calls per name), ``out`` (folder to write to),
``runtime`` (a private folder for the kernel's sockets), ``timeout``, ``per_cell``,
``check_timeout``, ``call_timeout``, ``max_restarts``.

Cells run in order in one IPython kernel, as in JupyterLab. A cell past its time limit is
interrupted (KeyboardInterrupt): what it defined before the loop stays defined. When the
interrupt does not stop it (a bare ``except`` around the loop, a C call) or a cell kills the
kernel, a new kernel replays the cells that ran, the lost cell statement by statement so the
definitions before the bad statement survive. Then, for each graded function,
``kernel_side.collect`` writes its outcomes to ``out/<name>/``. ``out/log.json`` says what
happened to which cell. This process is as untrusted as the kernel: the grader checks
whatever it finds in ``out``.
"""

from __future__ import annotations

import ast
import json
import queue
import sys
import time
from pathlib import Path

GRACE = 5.0   # seconds each cell still gets once the notebook's time limit has run out
COLLECT = ("__import__('course_lib.grade.kernel_side', fromlist=['collect']).collect("
           "globals(), {name!r}, {calls!r}, {out!r}, {seconds!r})")


class Kernel:
    """One IPython kernel, driven through jupyter_client (IPC sockets in the sandbox's /tmp)."""

    def __init__(self, runtime: Path, number: int):
        from jupyter_client import KernelManager

        self.manager = KernelManager(kernel_name="python3", transport="ipc",
                                     ip=str(runtime / f"kernel-{number}"))
        self.manager.start_kernel()
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def execute(self, code: str, seconds: float) -> tuple[str, str]:
        """("ok" | "error" | "timeout" | "dead", error text). A timeout interrupts the cell;
        "timeout" then means it stopped, "stuck" that the interrupt did not stop it."""
        msg_id = self._send(code)
        deadline = time.monotonic() + seconds
        error, interrupted, resent = "", False, 0
        while True:
            if not self.manager.is_alive():
                return "dead", ""
            try:
                reply = self.client.get_shell_msg(timeout=0.1)
            except queue.Empty:
                self._drain()
                if time.monotonic() > deadline:
                    if interrupted:
                        return "stuck", ""
                    self.manager.interrupt_kernel()
                    interrupted, deadline = True, time.monotonic() + 5
                continue
            if reply["parent_header"].get("msg_id") != msg_id:
                continue
            content = reply["content"]
            if content.get("status") == "aborted" and not interrupted and resent < 3:
                # not run at all (a kernel still aborting after an earlier error): send again
                resent += 1
                msg_id = self._send(code)
                continue
            if content.get("status") == "error":
                error = f"{content.get('ename', 'Error')}: {str(content.get('evalue', ''))[:200]}"
            if interrupted:
                return "timeout", ""
            return ("error", error) if content.get("status") == "error" else ("ok", "")

    def _send(self, code: str) -> str:
        """Send ``code``; a failing cell never makes the kernel abort the requests after it."""
        return self.client.execute(code, store_history=False, allow_stdin=False,
                                   stop_on_error=False)

    def _drain(self) -> None:
        """Throw away output messages (a cell printing in a loop cannot fill the memory)."""
        try:
            while True:
                self.client.get_iopub_msg(timeout=0)
        except queue.Empty:
            pass

    def stop(self) -> None:
        try:
            self.client.stop_channels()
            self.manager.shutdown_kernel(now=True)
        except Exception:  # noqa: BLE001 - a dead kernel is as good as a stopped one
            pass


def statements(source: str) -> list[str] | None:
    """A cell's top-level statements as separate sources (None: not plain Python)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    return [ast.get_source_segment(source, node) or "" for node in tree.body]


class Run:
    """One submission's run: cells, then collection, across kernel restarts."""

    def __init__(self, job: dict):
        self.job = job
        self.out = Path(job["out"])
        self.cell_notes: dict[int, str] = {}
        self.notes: list[str] = []
        self.collected: dict[str, str] = {}
        self.lost: dict[int, set[int]] = {}      # cell -> statements that were lost
        self.done: list[int] = []                # positions of the cells run so far
        self.kernels = 0
        self.kernel: Kernel | None = None
        self.deadline = float("inf")   # set once the first kernel is up
        self.late = False

    def new_kernel(self) -> bool:
        """Start a (new) kernel and replay the cells run so far; False: no restarts left."""
        if self.kernel is not None:
            self.kernel.stop()
            if self.kernels - 1 >= self.job["max_restarts"]:
                self.notes.append(f"the kernel was lost {self.kernels} times: grading stopped")
                return False
        self.kernels += 1
        self.kernel = Kernel(Path(self.job["runtime"]), self.kernels)
        for position in list(self.done):
            if not self.run_cell(position, replay=True):
                return self.new_kernel()
        return True

    def _execute(self, code: str, seconds: float) -> tuple[str, str]:
        if self.kernel is None:   # new_kernel starts one before any code runs
            raise RuntimeError("no kernel to run the code in")
        return self.kernel.execute(code, seconds)

    def run_cell(self, position: int, replay: bool = False) -> bool:
        """Run cell ``position``; False when the kernel must be replaced first."""
        number, source = self.job["cells"][position]
        if number in self.lost:
            return self.run_statements(position)
        limit = min(self.job["per_cell"], max(GRACE, self.deadline - time.monotonic()))
        status, error = self._execute(source, limit)
        if status == "error" and not replay:
            if error.startswith("ForbiddenCall: "):
                error = (f"called course_lib.{error.split(': ', 1)[1]}, which is switched off "
                         f"while grading (it computes an answer of this exercise); the rest of the "
                         f"cell was not run")
            else:
                error = f"raised {error}"
            self.cell_notes.setdefault(number, f"cell {number} {error}")
        elif status == "timeout":
            why = (f"timed out after {limit:.0f} s" if limit >= self.job["per_cell"] else
                   f"was still running when the notebook's time limit "
                   f"({self.job['timeout']:g} s) ran out")
            self.cell_notes[number] = (f"cell {number} {why} and was interrupted; what it "
                                       f"defined before that was kept")
        elif status in ("stuck", "dead"):
            what = ("could not be interrupted after its time limit" if status == "stuck" else
                    "crashed the kernel (os._exit, a segfault, ...)")
            self.cell_notes[number] = (f"cell {number} {what}; it was run again statement by "
                                       f"statement in a new kernel, without the statement "
                                       f"that failed")
            self.lost[number] = set()
            return False
        return True

    def run_statements(self, position: int) -> bool:
        number, source = self.job["cells"][position]
        parts = statements(source)
        if parts is None:
            return True   # not plain Python: left out
        for index, part in enumerate(parts):
            if index in self.lost[number]:
                continue
            status, _ = self._execute(part, min(self.job["per_cell"], 30.0))
            if status in ("stuck", "dead"):
                self.lost[number].add(index)
                return False
        return True

    def run(self) -> None:
        if not self.new_kernel():
            return
        # The notebook's time limit counts the student's cells, not the kernel's start-up.
        self.deadline = time.monotonic() + self.job["timeout"]
        for position in range(len(self.job["cells"])):
            if time.monotonic() > self.deadline and not self.late:
                number = self.job["cells"][position][0]
                self.late = True
                self.notes.append(f"the notebook's time limit ({self.job['timeout']:g} s) ran "
                                  f"out before cell {number}: from there on each cell had at "
                                  f"most {GRACE:g} s")
            while not self.run_cell(position):
                if not self.new_kernel():
                    return
            self.done.append(position)
        for name in self.job["names"]:
            code = COLLECT.format(name=name, calls=f"{self.job['calls']}/{name}",
                                  out=f"{self.out}/{name}", seconds=self.job["call_timeout"])
            status, error = self._execute(code, self.job["check_timeout"])
            self.collected[name] = {"ok": "ok", "error": f"error: {error}"}.get(status, status)
            if status in ("stuck", "dead") and not self.new_kernel():
                return

    def log(self) -> dict:
        return {"cells": {str(k): v for k, v in self.cell_notes.items()}, "notes": self.notes,
                "collected": self.collected}


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    run = Run(job)
    try:
        run.run()
    finally:
        if run.kernel is not None:
            run.kernel.stop()
        (run.out / "log.json").write_text(json.dumps(run.log()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
