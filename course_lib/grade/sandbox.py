"""Where a submission runs: bubblewrap, a course_lib without answers, and resource limits.

The sandbox (``bwrap``, Debian's bubblewrap) gets new user, PID, network, IPC, UTS and cgroup
namespaces, no capabilities, a new session (no terminal to inject into) and an empty
environment. Its file system is: ``/usr`` and the Python installation read-only; ``/course``
holding a copy of course_lib made for the lesson (below), ``data/`` and ``weights/`` read-only;
``/course/exercises`` (the working folder) and ``/tmp`` as size-limited tmpfs; the grader's
calls read-only at ``/grading/in`` and one folder it may write at ``/grading/out``. Nothing
else of the host exists in it: no ``solutions/``, no other submission, no grader output, no
grader process (its own PID namespace; ``--die-with-parent`` ends it with the grader).

Limits, set on the sandbox's first process and inherited: address space, CPU time, file size,
open files, no core dumps, number of processes; and, where the host lets the grader create
cgroups (v1 ``pids`` and ``memory``, as here), a cgroup that bounds processes and memory even
for root, whose members are all killed when the notebook is done. ``limits_held`` says which.

The course_lib copy: every function a check names in ``Spec.implementations`` (the library's
own answer to the exercise) has its body replaced by ``raise ForbiddenCall(...)``; the lesson
check modules (which hold references) are left out, only the checks' engine is kept, and
``course_lib.checks`` answers only "not available while grading"; compiled once per lesson,
shared read-only by its notebooks.
"""

from __future__ import annotations

import ast
import compileall
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from .. import paths

PACKAGE = paths.PACKAGE_DIR                            # course_lib/
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_PREFIX = "course-grade-"

# The only modules of course_lib/checks in the copy: the engine, which holds no right answer
# (the lesson modules and their helpers hold the references; __init__ becomes CHECKS_STUB).
CHECKS_ENGINE = ("_engine.py", "_compare.py", "_running.py")
CHECKS_STUB = '''"""Checks are not available while grading (the grader judges outside)."""

from ._engine import CheckResult


def __getattr__(name):
    if name.startswith("check_"):
        def check(fn, time_limit=None):
            return CheckResult(name[6:], False, ["checks are not available while grading"])
        return check
    raise AttributeError(name)
'''


def bwrap() -> str | None:
    """The bubblewrap executable, or None."""
    return shutil.which("bwrap")


def unavailable_reason() -> str | None:
    """Why no sandbox can be made here (None: bubblewrap works)."""
    path = bwrap()
    if path is None:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    probe = subprocess.run([path, "--unshare-all", "--ro-bind", "/", "/", "--", "true"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"bubblewrap cannot create namespaces here: {probe.stderr.strip()[:200]}"
    return None


# ---------------------------------------------------------------------------- the course copy
def _forbid(tree: ast.Module, qualname: str, dotted: str) -> bool:
    """Replace the body of ``qualname`` (``f`` or ``Class.f``) in ``tree``; False: not there."""
    scope, *rest = qualname.split(".")
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == scope and rest:
            return _forbid(ast.Module(body=node.body, type_ignores=[]), ".".join(rest), dotted)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == scope \
                and not rest:
            raise_stmt = ast.parse(
                "raise __import__('course_lib.checks._running', fromlist=['ForbiddenCall'])"
                f".ForbiddenCall({dotted!r})").body
            node.body = raise_stmt
            return True
    return False


def course_copy(destination: Path, implementations: list[str]) -> Path:
    """A copy of course_lib at ``destination/course_lib`` with ``implementations`` (dotted
    names inside course_lib) switched off; returns ``destination``."""
    target = destination / "course_lib"
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns(
        "__pycache__", "*.pyc", "slides", "grade"))
    (target / "grade").mkdir()
    for name in ("__init__.py", "kernel_side.py", "wire.py", "inside.py"):
        source = PACKAGE / "grade" / name
        text = source.read_text(encoding="utf-8") if name != "__init__.py" else ""
        (target / "grade" / name).write_text(text, encoding="utf-8")
    for module in (target / "checks").glob("*.py"):
        if module.name not in CHECKS_ENGINE:
            module.unlink()
    (target / "checks" / "__init__.py").write_text(CHECKS_STUB, encoding="utf-8")
    by_file: dict[Path, list[tuple[str, str]]] = {}
    for dotted in implementations:
        dotted_module, _, qualname = dotted.partition(".")
        path = target / f"{dotted_module.replace('.', '/')}.py"
        while not path.exists() and "." in qualname:   # a subpackage: widgets.arithmetic.f
            head, _, qualname = qualname.partition(".")
            dotted_module = f"{dotted_module}.{head}"
            path = target / f"{dotted_module.replace('.', '/')}.py"
        by_file.setdefault(path, []).append((qualname, dotted))
    for path, names in by_file.items():
        if not path.exists():
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        changed = [_forbid(tree, qualname, dotted) for qualname, dotted in names]  # all of them
        if any(changed):
            path.write_text(ast.unparse(tree) + "\n", encoding="utf-8")
    compileall.compile_dir(target, quiet=2, optimize=0, workers=1)
    return destination


# ---------------------------------------------------------------------------- limits
class Limits:
    """The resource limits of one sandbox, and a cgroup when the host allows one."""

    def __init__(self, memory_mb: int, processes: int, file_mb: int, cpu_seconds: float):
        self.memory = memory_mb * 2**20
        self.processes, self.file = processes, file_mb * 2**20
        self.cpu = int(cpu_seconds) + 1
        self.cgroups: list[Path] = []
        name = f"{CGROUP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"   # see watchdog.py
        for controller, setting, value in (("pids", "pids.max", processes),
                                           ("memory", "memory.limit_in_bytes", self.memory)):
            folder = CGROUP_ROOT / controller / name
            try:
                folder.mkdir()
                (folder / setting).write_text(str(value))
                self.cgroups.append(folder)
            except OSError:
                if folder.exists():
                    folder.rmdir()

    @property
    def held(self) -> list[str]:
        """Which limits hold, in words (for the report)."""
        held = ["address space", "CPU time", "file size", "open files"]
        controllers = {c.parent.name for c in self.cgroups}
        if "pids" in controllers or os.geteuid() != 0:
            held.append("processes")
        if "memory" in controllers:
            held.append("memory (cgroup)")
        return held

    def apply(self) -> None:
        """In the child, before exec: join the cgroups, set the rlimits."""
        for folder in self.cgroups:
            with open(folder / "cgroup.procs", "w") as handle:
                handle.write("0")
        for which, value in ((resource.RLIMIT_AS, self.memory), (resource.RLIMIT_CPU, self.cpu),
                             (resource.RLIMIT_FSIZE, self.file), (resource.RLIMIT_NOFILE, 512),
                             (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NPROC, self.processes)):
            resource.setrlimit(which, (value, value))

    def kill_all(self) -> None:
        """Kill every process left in the cgroups, then remove them."""
        for folder in self.cgroups:
            remove_cgroup(folder)


def remove_cgroup(folder: Path) -> None:
    """SIGKILL the processes in the cgroup ``folder`` until it is empty (2.5 s at most), then
    remove it (a cgroup that cannot be removed is left)."""
    for _ in range(50):
        try:
            pids = [int(p) for p in (folder / "cgroup.procs").read_text().split()]
        except OSError:
            break
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.05)
    try:
        folder.rmdir()
    except OSError:
        pass


# ---------------------------------------------------------------------------- the command
def _python_roots() -> list[str]:
    roots = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    return sorted(r for r in roots if not r.startswith("/usr"))


INSIDE = ("-m", "course_lib.grade.inside", "/grading/in/job.json")


def command(course: Path, job_in: Path, job_out: Path, data: Path | None,
            weights: Path | None, scratch_mb: int,
            python_args: tuple[str, ...] = INSIDE) -> list[str]:
    """The bwrap command line that runs Python with ``python_args`` (by default the inside
    runner on ``job_in/job.json``)."""
    executable = bwrap()
    if executable is None:
        raise RuntimeError(unavailable_reason())
    argv = [executable, "--unshare-all", "--die-with-parent", "--new-session",
            "--cap-drop", "ALL", "--clearenv", "--hostname", "grading",
            "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev"]
    for link in ("bin", "lib", "lib64", "sbin"):
        path = Path("/") / link
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), f"/{link}"]
        elif path.is_dir():
            argv += ["--ro-bind", str(path), f"/{link}"]
    for etc in ("/etc/ld.so.cache", "/etc/localtime", "/etc/fonts", "/etc/alternatives"):
        if os.path.exists(etc):
            argv += ["--ro-bind", etc, etc]
    # /tmp first: a Python (a venv) that lives under /tmp is bound over the fresh tmpfs
    argv += ["--size", str(scratch_mb * 2**20), "--tmpfs", "/tmp"]
    for root in _python_roots():
        argv += ["--ro-bind", root, root]
    argv += ["--ro-bind", str(course / "course_lib"), "/course/course_lib"]
    for folder, name in ((data, "data"), (weights, "weights")):
        if folder is not None and Path(folder).is_dir():
            argv += ["--ro-bind", str(Path(folder).resolve()), f"/course/{name}"]
    argv += ["--size", str(scratch_mb * 2**20), "--tmpfs", "/course/exercises",
             "--ro-bind", str(job_in), "/grading/in", "--bind", str(job_out), "/grading/out",
             "--chdir", "/course/exercises"]
    environment = {"HOME": "/tmp/home", "PATH": "/usr/local/bin:/usr/bin:/bin",
                   "PYTHONPATH": "/course", "PYTHONDONTWRITEBYTECODE": "1",
                   "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/matplotlib",
                   "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "LANG": "C.UTF-8",
                   "JUPYTER_PLATFORM_DIRS": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    for key, value in environment.items():
        argv += ["--setenv", key, value]
    return argv + ["--", sys.executable, *python_args]


def self_test(course: Path, work: Path, data: Path | None, weights: Path | None,
              scratch_mb: int) -> str | None:
    """Why the sandbox cannot run the grader here (None: it can). Run once before a batch,
    so that a broken sandbox is the grader's error and never a student's zero."""
    probe = "import course_lib.grade.inside, nbclient, ipykernel, numpy"
    with tempfile.TemporaryDirectory(prefix="self-test-", dir=work) as folder:
        job_in, job_out = Path(folder) / "in", Path(folder) / "out"
        job_in.mkdir()
        job_out.mkdir()
        try:
            result = subprocess.run(command(course, job_in, job_out, data, weights,
                                            scratch_mb, ("-c", probe)),
                                    capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            return "the sandbox's Python did not start within 120 s"
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        return (f"the sandbox's Python failed ({probe!r} exited with {result.returncode}): "
                + " | ".join(lines[-3:])[:400])
    return None


def folder_size(folder: Path, limit: int) -> int:
    """Bytes under ``folder`` (stops counting past ``limit``); never follows symlinks."""
    total = 0
    for base, dirs, files in os.walk(folder):
        for name in files + dirs:
            try:
                total += os.lstat(os.path.join(base, name)).st_size + 512
            except OSError:
                pass
            if total > limit:
                return total
    return total


def run(argv: list[str], limits: Limits, seconds: float, out: Path, out_limit: int,
        env: dict | None = None, cwd: Path | None = None) -> str | None:
    """Run ``argv`` under ``limits`` for at most ``seconds`` while ``out`` stays under
    ``out_limit`` bytes; kill it and every process it started. Returns why it was stopped
    early (None: it ended by itself)."""
    process = subprocess.Popen(argv, preexec_fn=limits.apply, start_new_session=True,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    deadline, why = time.monotonic() + seconds, None
    try:
        while process.poll() is None:
            if time.monotonic() > deadline:
                why = f"the whole run took longer than {seconds:.0f} s"
                break
            if folder_size(out, out_limit) > out_limit:
                why = f"it wrote more than {out_limit // 2**20} MB for the grader"
                break
            time.sleep(0.1)
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        process.kill()
        process.wait()
        limits.kill_all()
    return why
