"""Every default of the grader, in one place, and the Options of one run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..paths import DATA_DIR, WEIGHTS_DIR
from ..validate import check_int, check_real


@dataclass(frozen=True)
class Options:
    """How to run and judge the submissions (seconds, megabytes).

    timeout        all of a notebook's cells together;   cell_timeout: one cell (None: half of
                   ``timeout``); a cell past it is interrupted, what it defined before stays.
    check_timeout  collecting one graded function's outputs on all its cases.
    call_timeout   one call of a graded function.
    checks_module  module (or .py file) with ``LESSONS`` and ``SPECS``, imported by the grader
                   only (never in the student's kernel).
    sandbox        run each notebook in bubblewrap (False: ``--no-sandbox``, trusted work only).
    memory_mb      address space of the sandbox's processes; processes: how many at once;
    file_mb        largest file a notebook may write;  output_mb: all it may write to the
                   grader's exchange folder;  scratch_mb: its working folder (a tmpfs).
    max_restarts   kernel restarts per notebook (after a crash or a cell that cannot be
                   interrupted) before grading it stops.
    seed           the run's seed (None: drawn fresh; recorded in the report).
    data_dir, weights_dir : mounted read-only where the notebook sees ``../data``, ``../weights``.
    """

    timeout: float = 120.0
    cell_timeout: float | None = None
    check_timeout: float = 60.0
    call_timeout: float = 5.0
    checks_module: str = "course_lib.checks"
    sandbox: bool = True
    memory_mb: int = 3072
    processes: int = 64
    file_mb: int = 64
    output_mb: int = 256
    scratch_mb: int = 256
    max_restarts: int = 3
    seed: int | None = None
    data_dir: Path | None = DATA_DIR
    weights_dir: Path | None = WEIGHTS_DIR

    @property
    def per_cell(self) -> float:
        return self.cell_timeout if self.cell_timeout is not None else self.timeout / 2

    def validate(self) -> None:
        """Raise ValueError/TypeError naming the first bad field."""
        seconds = ["timeout", "check_timeout", "call_timeout"]
        if self.cell_timeout is not None:
            seconds.append("cell_timeout")
        for name in seconds:
            check_real(getattr(self, name), f"{name} (seconds)", positive=True)
        for name in ("memory_mb", "processes", "file_mb", "output_mb", "scratch_mb"):
            check_int(getattr(self, name), name, 1)
        check_int(self.max_restarts, "max_restarts")
        if not isinstance(self.checks_module, str) or not self.checks_module:
            raise TypeError(f"checks_module must be a module name or a .py path, "
                            f"got {self.checks_module!r}")
        if self.seed is not None:
            check_int(self.seed, "seed")
