"""Hostile submissions: the grader gives each only what its honest code earns, and nothing
the notebooks try reaches the host.

The gallery (tests/fixtures/hostile.py) holds lesson-05 notebooks that cheat or attack: patched
comparisons, a fake grader module, lying json, an input transformer, an ndarray subclass equal
to everything, stack and gc snooping, a search for the solutions, calls of course_lib's own
answers, file writes everywhere (repository, course copy, grader output, other submissions,
/tmp), a daemon, kills, a fork bomb, network, grader detection, a spoofed lesson, a 20 GB
allocation, endless loops, constant outputs, a judge-crashing return value and cells after
failing cells; plus an honest and an all-zeros control. One module-scoped run grades them
all (two at a time); the tests then read its grades and compare the host before and after:
files, marker files, processes, connections to listeners the test opened.

Hostile code is only ever run through the sandbox: without bubblewrap the module is skipped.
"""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from course_lib import grade
from course_lib.grade import batch, sandbox

FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
import hostile  # noqa: E402

REPO = hostile.REPO
OPTIONS = grade.Options(timeout=30, cell_timeout=6, check_timeout=8, call_timeout=2)

pytestmark = pytest.mark.skipif(sandbox.unavailable_reason() is not None,
                                reason="no bubblewrap sandbox: hostile code is never run "
                                       "outside one")

# ------------------------------------------------------------------------- the run
@dataclass
class Listener:
    """A TCP port on 127.0.0.1 and an abstract Unix socket that record every connection."""

    token: str
    accepted: list[str] = field(default_factory=list)
    sockets: list[socket.socket] = field(default_factory=list)

    def start(self) -> None:
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind(("127.0.0.1", 0))
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        unix.bind(f"\0hostile-{self.token}")
        for sock in (tcp, unix):
            sock.listen(8)
            sock.settimeout(0.2)
            self.sockets.append(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    @property
    def port(self) -> int:
        return self.sockets[0].getsockname()[1]

    def _serve(self, sock: socket.socket) -> None:
        while True:
            try:
                connection, address = sock.accept()
            except TimeoutError:
                continue
            except OSError:   # closed
                return
            self.accepted.append(repr(address))
            connection.close()

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


def _files(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (byte code caches left out)."""
    if not folder.exists():
        return {}
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def _survivors(markers: list[str]) -> list[str]:
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            line = " ".join(process.info["cmdline"] or [])
        except (psutil.Error, TypeError):
            continue
        if any(m in line for m in markers):
            found.append(f"{process.info['pid']}: {line[:120]}")
    return found


@dataclass
class Gallery:
    grades: dict[str, grade.SubmissionGrade]
    before: dict[str, dict[str, str]]
    after: dict[str, dict[str, str]]
    token: str
    mark: str
    work: Path
    connections: list[str]
    seconds: float
    survivors: list[str]
    run: grade.Run


@pytest.fixture(scope="module")
def gallery(tmp_path_factory) -> Gallery:
    root = tmp_path_factory.mktemp("hostile")
    submissions, out, work = root / "submissions", root / "grader-out", root / "work"
    out.mkdir()
    work.mkdir()
    (out / "grades.csv").write_text("submission,points\nearlier run,3\n", encoding="utf-8")
    (out / "report.md").write_text("# An earlier report\n", encoding="utf-8")
    token = hostile.new_token()
    mark = hostile.mark(token)
    listener = Listener(token)
    listener.start()
    try:
        context = {"TOKEN": token, "MARK": mark, "REPO": str(REPO),
                   "SUBMISSIONS": str(submissions), "OUT": str(out),
                   "PORT": str(listener.port), "UNIX": f"hostile-{token}"}
        hostile.write(submissions, context)
        watched = {"course_lib": REPO / "course_lib", "solutions": REPO / "solutions",
                   "exercises": REPO / "exercises", "submissions": submissions,
                   "grader-out": out}
        before = {name: _files(folder) for name, folder in watched.items()}
        start = time.monotonic()
        run = grade.grade_folder(submissions, solutions=REPO / "solutions", jobs=4,
                                 options=OPTIONS, work=work)
        seconds = time.monotonic() - start
        time.sleep(2)   # a daemon that escaped would write now
        after = {name: _files(folder) for name, folder in watched.items()}
        survivors = _survivors([mark, token, str(work)])
    finally:
        listener.close()
    print(f"\nhostile gallery: {len(run.grades)} notebooks graded in {seconds:.1f} s")
    return Gallery({g.submission.split("/")[0]: g for g in run.grades}, before, after, token,
                   mark, work, list(listener.accepted), seconds, survivors, run)


def _function(g: grade.SubmissionGrade, name: str) -> grade.FunctionGrade:
    return next(f for f in g.functions if f.name == name)


def _feedback(g: grade.SubmissionGrade, name: str) -> str:
    return " ".join(_function(g, name).messages)


# ------------------------------------------------------------------------- scores
def _score_cases() -> list:
    cases = []
    for attack in hostile.ATTACKS:
        cases.append(pytest.param(attack, id=attack.name))
    return cases


@pytest.mark.parametrize("attack", _score_cases())
def test_each_attack_scores_only_what_its_honest_code_earns(gallery, attack):
    g = gallery.grades[attack.name]
    assert g.lesson == hostile.LESSON
    assert g.graded and not g.grader_error, g.notes
    passed = {f.name: f.status == "pass" for f in g.functions}
    assert passed == {name: status == "pass" for name, status in attack.statuses.items()}, (
        [(f.name, f.status, f.messages[:1]) for f in g.functions], g.notes)
    assert g.points == attack.points
    assert g.max_points == 3


def test_the_controls_anchor_the_scale(gallery):
    assert gallery.grades["honest"].points == 3
    assert gallery.grades["zeros"].points == 0
    assert gallery.grades["honest"].notes == []


def test_every_notebook_was_graded(gallery):
    assert sorted(gallery.grades) == sorted(a.name for a in hostile.ATTACKS)
    assert [g.submission for g in gallery.run.grades if g.grader_error] == []


# ------------------------------------------------------------------------- the host
@pytest.mark.parametrize("name", ["course_lib", "solutions", "exercises", "submissions",
                                  "grader-out"])
def test_no_file_was_changed_added_or_removed(gallery, name):
    before, after = gallery.before[name], gallery.after[name]
    assert before, f"nothing was hashed under {name}"
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert changed == []


def test_no_marker_file_appears_on_the_host(gallery):
    token = gallery.token
    found = [str(p) for folder in (Path("/tmp"), Path("/"), REPO, REPO / "course_lib",
                                   REPO / "course_lib" / "checks", REPO / "exercises",
                                   gallery.work)
             for p in folder.glob(f"*{token}*")]
    assert found == []
    assert not Path(f"/tmp/pwned-{token}-write_files").exists()
    assert not Path(f"/tmp/pwned-{token}-daemon").exists()


def test_no_process_of_a_notebook_survives_the_run(gallery):
    assert gallery.survivors == []
    assert _survivors([gallery.mark, gallery.token, str(gallery.work)]) == []


def test_the_grader_left_only_its_course_copy_in_its_work_folder(gallery):
    assert sorted(p.name for p in gallery.work.iterdir()) == [f"course-{hostile.LESSON}"]


def test_no_connection_reaches_the_host(gallery):
    assert gallery.connections == []
    report = _feedback(gallery.grades["network"], "softmax")
    assert "connected" not in report and "resolved" not in report, report
    for label in ("host-port=", "host-unix=", "internet=", "dns="):
        assert label in report, report


def test_reports_are_written_for_the_hostile_class(gallery, tmp_path):
    grade.write_csv(gallery.run.grades, tmp_path / "grades.csv")
    with open(tmp_path / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    totals = {r["student"]: float(r["points"]) for r in rows if r["function"] == grade.TOTAL}
    assert totals["honest"] == 3 and totals["zeros"] == 0
    assert "honest" in grade.format_report(gallery.run.grades)


# ------------------------------------------------------------------------- what each met
def test_the_library_call_is_named_in_the_feedback(gallery):
    g = gallery.grades["call_library"]
    assert g.points == 0
    assert "course_lib.functional.softmax" in _feedback(g, "softmax")
    assert "course_lib.layers.CrossEntropyLoss.forward" in _feedback(g, "cross_entropy")


def test_the_library_call_gets_the_own_implementation_message(gallery):
    g = gallery.grades["call_library"]
    for name, library in (("softmax", "functional.softmax.softmax"),
                          ("cross_entropy", "layers.CrossEntropyLoss.forward")):
        text = _feedback(g, name)
        assert f"`{name}` calls `course_lib.{library}`, the library's own implementation of " \
               f"what this exercise asks you to write, so it scores 0" in text, text


def test_indirect_library_calls_are_switched_off_too(gallery):
    g = gallery.grades["call_library_indirect"]
    # (named where they are defined: functional/softmax.py)
    assert "course_lib.functional.softmax.log_softmax" in _feedback(g, "softmax")
    assert "course_lib.functional.softmax.cross_entropy_forward" in _feedback(g, "cross_entropy")


def test_the_solutions_are_nowhere_in_the_sandbox(gallery):
    g = gallery.grades["exec_solutions"]
    assert "no solution found after walking" in _feedback(g, "softmax")


def test_the_sandbox_refuses_writes_to_the_course_copy_and_the_grader_input(gallery):
    g = gallery.grades["write_files"]
    refused = _feedback(g, "softmax")
    for label in ("sandbox-checks", "sandbox-kernel-side", "grading-in"):
        assert label in refused, refused


def test_a_daemon_runs_in_the_sandbox_and_dies_with_it(gallery):
    g = gallery.grades["daemon"]
    assert not any("daemon never ran" in n for n in g.notes), g.notes
    assert g.points == 3
    assert gallery.survivors == []


def test_a_fork_bomb_is_stopped_by_the_process_limit(gallery):
    g = gallery.grades["fork_bomb"]
    counts = [int(re.search(r"forked (\d+) processes", n).group(1)) for n in g.notes
              if "forked" in n]
    assert counts, g.notes
    assert 10 <= counts[0] < OPTIONS.processes, counts
    assert g.points == 3


def test_killing_the_runner_loses_only_that_notebook(gallery):
    for name in ("kill_parent", "kill_everyone"):
        g = gallery.grades[name]
        assert g.points == 0
        assert any("left no log" in n for n in g.notes), g.notes
    assert gallery.grades["honest"].points == 3


def test_a_spoofed_lesson_is_graded_by_its_name_and_flagged(gallery):
    g = gallery.grades["metadata_spoof"]
    assert g.lesson == hostile.LESSON and g.flagged and g.points == 3
    assert any("06_backprop_by_layer" in n and "graded as 05_softmax_cross_entropy" in n
               for n in g.notes), g.notes
    assert not any(other.flagged for name, other in gallery.grades.items()
                   if name != "metadata_spoof")


def test_a_memory_hog_cell_fails_with_a_memory_error(gallery):
    g = gallery.grades["memory_hog"]
    assert any("raised MemoryError" in n for n in g.notes), g.notes
    assert not any("sandbox was stopped" in n or "crashed" in n for n in g.notes), g.notes


def test_the_cell_after_a_memory_hog_still_counts(gallery):
    assert _function(gallery.grades["memory_hog"], "softmax").status == "pass"


def test_no_cell_is_skipped_after_a_failing_cell(gallery):
    g = gallery.grades["after_error"]
    assert _function(g, "cross_entropy").status == "pass", _feedback(g, "cross_entropy")


def test_a_loop_after_a_definition_keeps_the_definition(gallery):
    g = gallery.grades["loop_after_def"]
    assert any("timed out" in n for n in g.notes), g.notes
    assert not any("renamed?" in m for f in g.functions for m in f.messages)


def test_a_loop_that_swallows_the_time_limit_is_stopped(gallery):
    g = gallery.grades["swallow_timeout"]
    softmax = _function(g, "softmax")
    assert softmax.status != "pass" and softmax.points == 0
    assert "did not finish within" in _feedback(g, "softmax")
    assert _function(g, "cross_entropy").status == "pass"


def test_forged_outcomes_are_judged_as_the_values_they_hold(gallery):
    for name in ("fake_modules", "patch_json", "input_transformer", "array_subclass",
                 "patch_allclose", "replay", "env_detect"):
        g = gallery.grades[name]
        assert g.points == 0, (name, [(f.name, f.status) for f in g.functions])
        assert all(f.status != "error" for f in g.functions), name


# ------------------------------------------------------------------------- the sandbox itself
def test_a_python_that_lives_under_tmp_is_seen_in_the_sandbox(tmp_path, monkeypatch):
    # a course cloned under /tmp has its venv there; the sandbox's own /tmp must not hide it
    marker = tmp_path / "venv-marker"
    marker.write_text("here")
    roots = sandbox._python_roots()
    monkeypatch.setattr(sandbox, "_python_roots", lambda: roots + [str(tmp_path)])
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    argv = sandbox.command(REPO, tmp_path / "in", tmp_path / "out", None, None, 16,
                           ("-c", f"print(open({str(marker)!r}).read())"))
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "here", result.stderr


def test_a_sandbox_that_cannot_run_the_grader_stops_the_batch_instead_of_zeroing(
        tmp_path, monkeypatch):
    # a broken sandbox (here: Python cannot import the grader) is the grader's error, never a
    # class of students with 0 points
    broken = tmp_path / "broken-course"
    (broken / "course_lib").mkdir(parents=True)
    assert "exited with" in sandbox.self_test(broken, tmp_path, None, None, 16)
    assert sandbox.self_test(REPO, tmp_path, None, None, 16) is None
    monkeypatch.setattr(batch.Grader, "course", lambda self, lesson: broken)
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    shutil.copy(REPO / "exercises" / f"{hostile.LESSON}.ipynb", submissions)
    with pytest.raises(RuntimeError, match="no sandbox: the sandbox's Python failed"):
        grade.grade_folder(submissions, solutions=REPO / "solutions", options=OPTIONS)
