"""The lesson registry: the one ordered list of the course's lessons.

Everything that needs "the lessons" reads it: the checks (``course_lib.checks``), the grader,
the exercise generator's tests, the slides and the test suite. Nobody keeps a second list.

A lesson is ``NN_slug``: its notebook is ``notebooks/NN_slug.ipynb``; a lesson with
``checks=True`` also has ``solutions/NN_slug.ipynb`` (the source), ``exercises/NN_slug.ipynb``
(generated from it by ``course_lib.assign``) and a checks module ``course_lib/checks/slug.py``
whose ``GRADED`` tuple names its graded functions, in order. The slug carries no number, so
renumbering a lesson renames its three notebooks and changes its line here, nothing else.

Add a lesson: add its ``Lesson`` line here in course order, write its notebook (first line
``# NN — Title``), and for an exercise its solution notebook and checks module. The tests
(``tests/test_lessons.py``) say what is missing.

Lesson fields: number, slug, title, minutes (an honest estimate for a learner alone, reading,
running and answering the self-checks; the exercise is extra), checks, widgets (the
``course_lib.widgets`` explorers the lesson displays, in order of first appearance) and
about (what the learner takes away, one line for the course map: ``course_map()``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import paths

__all__ = ["Lesson", "LESSONS", "get_lesson", "with_exercises", "course_map"]


@dataclass(frozen=True)
class Lesson:
    number: int
    slug: str
    title: str
    minutes: int
    checks: bool = False  # has an exercise, a solution and ``course_lib/checks/<slug>.py``
    widgets: tuple[str, ...] = ()
    about: str = ""

    @property
    def stem(self) -> str:
        """``"02_convolution"``: the file name of its notebooks, without ``.ipynb``."""
        return f"{self.number:02d}_{self.slug}"

    @property
    def heading(self) -> str:
        """The notebook's first line: ``"# 02 — Convolution"``."""
        return f"# {self.number:02d} — {self.title}"

    @property
    def notebook(self) -> Path:
        return paths.NOTEBOOKS_DIR / f"{self.stem}.ipynb"

    @property
    def solution(self) -> Path | None:
        return paths.SOLUTIONS_DIR / f"{self.stem}.ipynb" if self.checks else None

    @property
    def exercise(self) -> Path | None:
        return paths.EXERCISES_DIR / f"{self.stem}.ipynb" if self.checks else None


LESSONS: tuple[Lesson, ...] = (
    Lesson(0, "start_here", "Start here", 20,
           about="how the course works, an environment check, a first look at MNIST"),
    Lesson(1, "why_convolutions", "Why convolutions?", 60, widgets=("ShiftExplorer",),
           about="an MLP against two CNNs: parameters, shifted digits, locality and weight "
                 "sharing, equivariance, receptive field, dilation, 1×1 convolutions"),
    Lesson(2, "convolution", "Convolution", 60, checks=True,
           widgets=("SlidingWindowStepper", "KernelEditor"),
           about="cross-correlation vs convolution, classic kernels, channels, filters, bias"),
    Lesson(3, "padding_and_stride", "Padding and stride", 45, checks=True,
           widgets=("SlidingWindowStepper", "ConvArithmeticExplorer"),
           about="the output-size formula derived, 'same' padding, stride, dilation"),
    Lesson(4, "pooling", "Pooling", 40, checks=True, widgets=("PoolingExplorer",),
           about="max vs average, overlapping windows, how much invariance pooling buys"),
    Lesson(5, "softmax_cross_entropy", "Softmax and cross-entropy", 45, checks=True,
           widgets=("TemperatureExplorer",),
           about="a stable softmax, temperature, ln 10 at chance, the gradient p − y derived"),
    Lesson(6, "backprop_by_layer", "Backprop, layer by layer", 90, checks=True,
           widgets=("BackwardStepper",),
           about="the chain rule on a graph, then every layer's backward pass derived "
                 "(conv with stride and padding) and gradient-checked"),
    Lesson(7, "training_on_mnist", "Training on MNIST", 130, checks=True,
           widgets=("FeatureMapExplorer", "DrawDigitExplorer"),
           about="validation vs test, SGD/momentum/Adam, schedules, initialisation, "
                 "debugging a network that does not learn, then inside the trained net: "
                 "draw a digit, saliency and occlusion"),
    Lesson(8, "batchnorm_and_dropout", "Batch norm and dropout", 70, checks=True,
           about="batch norm's backward pass from its graph, train vs eval mode, dropout"),
    Lesson(9, "making_it_fast", "Making it fast", 50, checks=True,
           about="loops → sliding windows → im2col and one matrix product, timed fairly"),
    Lesson(10, "where_cnns_went_next", "Where CNNs went next", 60,
           about="LeNet → AlexNet → VGG's 3×3 stacks → ResNet: skip connections keep gradients "
                 "flowing, global average pooling, a small ResNet in NumPy"),
)


def get_lesson(name: str | int) -> Lesson:
    """The lesson named by its stem (``"02_convolution"``), number (``2``, ``"02"``) or slug."""
    if isinstance(name, bool) or not isinstance(name, (str, int)):
        raise TypeError(f"name must be a lesson stem, number or slug, got "
                        f"{type(name).__name__} {name!r}")
    for lesson in LESSONS:
        if name in (lesson.stem, lesson.slug, lesson.number) or (
                isinstance(name, str) and name.isdigit() and int(name) == lesson.number):
            return lesson
    raise ValueError(f"name must name a lesson, got {name!r}; lessons: "
                     f"{', '.join(lesson.stem for lesson in LESSONS)}")


def course_map(notebooks: str = "", exercises: str = "../exercises/") -> str:
    """The course map as a Markdown table, from the registry: number, lesson (linked), time,
    what you learn, widgets, exercise (linked). ``notebooks`` / ``exercises`` prefix the links.
    """
    rows = ["| # | lesson | time | what you learn | widgets | exercise |",
            "|---|---|---|---|---|---|"]
    for lesson in LESSONS[1:]:
        exercise = (f"[exercise]({exercises}{lesson.stem}.ipynb)" if lesson.checks else "—")
        rows.append(f"| {lesson.number:02d} | [{lesson.title}]({notebooks}{lesson.stem}.ipynb) "
                    f"| {lesson.minutes} min | {lesson.about} | "
                    f"{', '.join(lesson.widgets) or '—'} | {exercise} |")
    return "\n".join(rows)


def with_exercises() -> tuple[Lesson, ...]:
    """The lessons that have an exercise (and so a solution and checks), in course order."""
    return tuple(lesson for lesson in LESSONS if lesson.checks)
