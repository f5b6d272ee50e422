"""Grade a class's exercise notebooks: each run in a sandbox, each graded function judged
outside it.

    python -m course_lib.grade SUBMISSIONS --out grades.csv --report report.md \
        --feedback feedback/ [--jobs 2] [--shard 1/4 --json shard1.json]

For every ``*.ipynb`` under SUBMISSIONS (symlinks and ``.ipynb_checkpoints`` skipped), read
once and never modified:

1. **Which lesson and student** (``submissions``): the lesson from the file or folder name
   (``alice_02_convolution.ipynb``, ``alice/02_convolution.ipynb``), else the notebook's
   metadata ``course.lesson``; a name and metadata that disagree are flagged in the report.
   Empty, non-JSON and non-notebook files are reported, not run.
2. **Run** (``sandbox``, ``inside``): the code cells (not the nbgrader test cells) run in an
   IPython kernel inside a bubblewrap sandbox with a course_lib whose own answers to the
   lesson's exercises are switched off, no ``solutions/``, no network, no view of other
   submissions or of the grader, and limits on memory, CPU, processes and file sizes. A cell
   past its time limit is interrupted (its earlier definitions stay); a cell that kills the
   kernel is replayed statement by statement without the statement that failed.
3. **Collect** (``kernel_side``): for each graded function, the kernel calls it on cases drawn
   by the grader from a fresh seed and writes the raw outputs as plain data (``wire``).
4. **Judge** (``judge``), in the grader's process, which never imports student code: the
   checks' own comparison and mistake diagnosis (``course_lib.checks``), on outputs read back
   as untrusted files. A function that calls the switched-off library code scores 0 and is
   told why.
5. **Points** from the test cells ``test_<name>`` of ``solutions/<lesson>.ipynb``; written
   answers get a row "needs manual grading".
6. **Reports** (``reports``): CSV (one row per student and function, then a TOTAL row), a
   Markdown report with the run's seed, a feedback file per student, Gradescope's
   ``results.json``, shard files for ``merge`` — each written atomically at the end, earlier
   files renamed ``*.previous`` at the start.

CSV columns: submission, student, lesson, function (or a written answer's grade_id, or
TOTAL), status (pass | fail | missing | error; manual | missing for written answers; TOTAL:
"k/n passed"), points, max_points, feedback.
"""

from .batch import Run, grade_folder
from .cli import main
from .options import Options
from .reports import (
    feedback_text,
    format_report,
    gradescope_results,
    merge_documents,
    rows,
    write_csv,
)
from .results import COLUMNS, MANUAL, TOTAL, FunctionGrade, SubmissionGrade
from .submissions import (
    LoadedNotebook,
    WrittenAnswer,
    grade_answers,
    infer_lesson,
    infer_student,
    lesson_answers,
    lesson_points,
    load_submission,
)

__all__ = ["COLUMNS", "MANUAL", "TOTAL", "FunctionGrade", "LoadedNotebook", "Options", "Run",
           "SubmissionGrade", "WrittenAnswer", "feedback_text", "format_report",
           "grade_answers", "grade_folder", "gradescope_results", "infer_lesson",
           "infer_student", "lesson_answers", "lesson_points", "load_submission", "main",
           "merge_documents", "rows", "write_csv"]
