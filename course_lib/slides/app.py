"""A lesson as a widgets-only app for students: Voila, code cells hidden, fully offline.

    python -m course_lib.slides.app 02_convolution        # opens the browser
    python -m course_lib.slides.app 02 --port 8866 --no-browser
    python -m course_lib.slides.app                       # every lesson: pick one from a list

Voila runs the notebook in a fresh kernel and shows its Markdown, outputs and live widgets,
without the code. Plain ``voila notebooks/02_convolution.ipynb`` works too; this launcher
adds the ``course_app`` template (Voila's lab template without two CDN stylesheet links,
see ``jupyter/voila/templates/course_app``), binds to 127.0.0.1 only, and on Ctrl-C or SIGTERM
stops Voila and every kernel it started (kernels run in sessions of their own, so stopping
Voila's process alone would leave them running).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .. import paths
from ..validate import check_int, check_path
from . import find_lessons

#: A Jupyter data dir holding ``voila/templates/course_app``; added to ``$JUPYTER_PATH``.
JUPYTER_DATA = Path(__file__).with_name("jupyter")
TEMPLATE = "course_app"


def voila_env(base: dict | None = None) -> dict:
    """A copy of ``base`` (default ``os.environ``) whose JUPYTER_PATH finds the app template."""
    env = dict(os.environ if base is None else base)
    paths = [str(JUPYTER_DATA)] + [p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    env["JUPYTER_PATH"] = os.pathsep.join(paths)
    return env


def voila_command(target: str | Path, port: int = 8866, *, open_browser: bool = True) -> list:
    """The command line that serves ``target`` with Voila on http://127.0.0.1:PORT/.

    target : a notebook (served at ``/``) or a folder (a list of its notebooks; each one at
             ``/voila/render/<path relative to the folder>``).
    Run it with :func:`voila_env` as its environment.
    """
    path = check_path(target, "target")
    if not (path.is_dir() or (path.is_file() and path.suffix == ".ipynb")):
        raise ValueError(f"target must be an existing .ipynb file or folder, got {str(path)!r}")
    check_int(port, "port", 1, 65535)
    command = [sys.executable, "-m", "voila", str(path), f"--template={TEMPLATE}",
               f"--port={port}", "--Voila.port_retries=0", "--Voila.ip=127.0.0.1",
               "--show_tracebacks=True"]  # exactly this port (the URL we print), or exit
    if not open_browser:
        command.append("--no-browser")
    return command


class _Stop(Exception):
    """Raised in the launcher by SIGTERM / SIGINT."""


def _raise_stop(signum, frame):
    raise _Stop(signum)


def stop_process_tree(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM ``pid`` and all its descendants (found first: orphans are not findable later),
    wait up to ``timeout`` seconds, then SIGKILL whatever is left."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=timeout)


def run_voila(command: list, env: dict) -> int:
    """Run Voila until it exits, or until this process gets SIGTERM or SIGINT (Ctrl-C): then
    stop Voila and its kernels (:func:`stop_process_tree`) and return 0."""
    saved = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    proc = None
    try:
        proc = subprocess.Popen(command, env=env)
        return proc.wait()
    except _Stop:
        return 0
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        if proc is not None:
            stop_process_tree(proc.pid)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.slides.app",
                                     description="Open a lesson as a widgets-only Voila app.")
    parser.add_argument("lesson", nargs="?",
                        help="lesson name (02_convolution, 02) or .ipynb path; default: a list "
                             "of every lesson in notebooks/")
    parser.add_argument("--port", type=int, default=8866, help="port (default 8866)")
    parser.add_argument("--browser", action=argparse.BooleanOptionalAction, default=True,
                        help="open a browser tab (default: on)")
    args = parser.parse_args(argv)
    try:
        target = find_lessons([args.lesson])[0] if args.lesson else paths.NOTEBOOKS_DIR
        command = voila_command(target, args.port, open_browser=args.browser)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"serving {target} at http://127.0.0.1:{args.port}/ (Ctrl-C stops)", flush=True)
    return run_voila(command, voila_env())


if __name__ == "__main__":
    sys.exit(main())
