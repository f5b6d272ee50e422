"""The only grader code that runs inside a submission's kernel: call one graded function on
the grader's calls and write what happened, as plain data, for the grader to judge.

Nothing here knows a right answer: no reference, no check, no tolerance is imported into the
kernel, so nothing the student's code can reach (patching, stack frames, ``gc``) reveals one.
Everything this writes is untrusted by the grader (see ``wire.read_outcome``).
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

from ..checks._running import call
from .wire import read_calls, write_outcome

MAX_TIMEOUTS = 2   # calls that hit the time limit before the rest of the calls are skipped


def collect(namespace: dict, name: str, calls_dir: str, out_dir: str, seconds: float) -> str:
    """Call ``namespace[name]`` on every call in ``calls_dir``; write outcomes to ``out_dir``.

    Returns (and writes to ``status.json``) "ok", "missing" or "not callable".
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fn = namespace.get(name)
    if fn is None or not callable(fn):
        defined = [k for k, v in list(namespace.items())
                   if callable(v) and not k.startswith("_")]
        status = "missing" if fn is None else "not callable"
        similar = difflib.get_close_matches(name, defined, n=3, cutoff=0.6)
        (out / "status.json").write_text(json.dumps({"status": status, "similar": similar}))
        return status
    timeouts = 0
    for index, (args, keyword) in enumerate(read_calls(calls_dir)):
        outcome = call(fn, args, keyword, seconds)
        write_outcome(out, index, outcome)
        timeouts += outcome.timeout
        if timeouts >= MAX_TIMEOUTS:
            break
    (out / "status.json").write_text(json.dumps({"status": "ok", "similar": []}))
    return "ok"
