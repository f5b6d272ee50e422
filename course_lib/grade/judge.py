"""Judging, in the grader's own process: the cases, then the verdict on what came back.

The cases of each graded function are drawn from a seed made of the run's seed (fresh for
every run unless given; it is in the report), the submission and the function, so a grade can
be reproduced and answers cannot be replayed from an earlier run or another student. The
verdict is the checks' own ``judge`` (same messages as the notebook's checks) applied to the
outcomes read back through ``wire.read_outcome``; student code is never imported here.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import secrets
import sys
from pathlib import Path

import numpy as np

from ..checks._engine import Spec, judge
from ..checks._running import Outcome
from .wire import WireError, read_outcome, write_calls


def fresh_seed() -> int:
    return secrets.randbits(63)


def function_seed(run_seed: int, submission: str, name: str) -> int:
    digest = hashlib.sha256(f"{run_seed}\0{submission}\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def load_checks(module: str) -> tuple[dict[str, list[str]], dict[str, Spec]]:
    """``(LESSONS, SPECS)`` of a checks module (a dotted name or a ``.py`` path); ValueError
    when it cannot be loaded."""
    try:
        loaded = _import(module)
    except Exception as exc:  # any failure of the instructor's module: a usage error
        raise ValueError(f"could not load the checks from {module}: {type(exc).__name__}: "
                         f"{exc}") from exc
    try:
        return dict(loaded.LESSONS), dict(loaded.SPECS)
    except AttributeError as exc:
        raise ValueError(f"checks module {module} has no {exc.name}") from None


def _import(module: str):
    if module.endswith(".py"):
        name = f"_course_checks_{Path(module).stem}"
        spec = importlib.util.spec_from_file_location(name, module)
        if spec is None or spec.loader is None:
            raise ValueError(f"checks module {module} cannot be loaded")
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[name] = loaded
        spec.loader.exec_module(loaded)
        return loaded
    return importlib.import_module(module)


class FunctionJob:
    """One graded function of one submission: its cases and calls, then its verdict."""

    def __init__(self, spec: Spec, seed: int):
        self.spec = spec
        self.cases = spec.cases(np.random.default_rng(seed))
        self.per_case = 1 + len(spec.reruns)

    def calls(self) -> list[tuple[dict, tuple]]:
        out = []
        for case in self.cases:
            out.append((case.copy_args(), case.keyword))
            for change in self.spec.reruns:
                out.append(({**case.copy_args(), **change}, case.keyword))
        return out

    def write(self, folder: Path) -> None:
        write_calls(folder, self.calls())

    def verdict(self, folder: Path, seconds: float) -> tuple[str, list[str]]:
        """("pass" | "fail" | "error", messages) from the outcomes in ``folder``."""
        outcomes: list[list[Outcome]] = []
        names = None
        try:
            for case in self.cases:
                names = tuple(case.args)
                found = []
                for index in range(len(outcomes) * self.per_case,
                                   (len(outcomes) + 1) * self.per_case):
                    outcome = read_outcome(folder, index, names)
                    if outcome is None:
                        break
                    found.append(outcome)
                if not found:
                    break
                outcomes.append(found)
        except WireError as exc:
            return "error", [f"the outputs of {self.spec.name} could not be read: {exc} "
                             f"(did the notebook tamper with the grader's files?)"]
        try:
            result = judge(self.spec, self.cases, outcomes, seconds)
        except Exception as exc:  # noqa: BLE001 - a strange value must not stop the batch
            return "error", [f"the outputs of {self.spec.name} could not be judged "
                             f"({type(exc).__name__}: {str(exc)[:200]}); grade it by hand"]
        return ("pass" if result.passed else "fail"), list(result.messages)
