"""What grading gives: one SubmissionGrade per notebook, one FunctionGrade per graded function."""

from __future__ import annotations

from dataclasses import dataclass, field

COLUMNS = ("submission", "student", "lesson", "function", "status", "points", "max_points",
           "feedback")
TOTAL = "TOTAL"
MANUAL = "needs manual grading"


@dataclass
class FunctionGrade:
    """The grade of one graded function in one submission."""

    name: str
    status: str                 # pass | fail | missing | error
    points: float
    max_points: float
    messages: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == "pass"


@dataclass
class SubmissionGrade:
    """The grades of one submitted notebook."""

    submission: str             # path relative to the submissions folder
    student: str
    lesson: str | None
    functions: list[FunctionGrade] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # about the notebook as a whole
    # written answers, graded by hand: status manual | missing | error, 0 points of their max
    answers: list[FunctionGrade] = field(default_factory=list)
    answer_texts: dict[str, str] = field(default_factory=dict)   # grade_id -> the answer
    graded: bool = True         # False: invalid file, unknown lesson or a grader-side problem
    grader_error: bool = False  # True: the grader (not the student) failed, e.g. checks import
    flagged: bool = False       # True: for the instructor to look at (e.g. file name and
                                # metadata name different lessons)

    @property
    def points(self) -> float:
        return sum(f.points for f in self.functions)

    @property
    def max_points(self) -> float:
        """The autograded points available (written answers are graded by hand)."""
        return sum(f.max_points for f in self.functions)

    @property
    def manual_points(self) -> float:
        """The points of the written answers, left to the instructor."""
        return sum(a.max_points for a in self.answers)


def grade_from_dict(data: dict) -> SubmissionGrade:
    """The inverse of ``dataclasses.asdict`` for a SubmissionGrade (shard files)."""
    data = dict(data)
    data["functions"] = [FunctionGrade(**f) for f in data.get("functions", [])]
    data["answers"] = [FunctionGrade(**f) for f in data.get("answers", [])]
    return SubmissionGrade(**data)
