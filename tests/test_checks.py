"""Tests for course_lib.checks: the checks reject wrong code with the right hint and accept
right code in any style.

The gallery (tests/wrong_impls/) holds deliberately wrong implementations, each with a
keyword its hint must contain, and correct implementations written differently. Beyond the
gallery, every Spec is checked mechanically: each named mistake shows on some case, is told
apart from the others and is the one named where it first goes wrong (for several case seeds,
as the grader draws fresh ones); case labels agree with their arguments; the course_lib
functions switched off while grading (``Spec.implementations``) exist, under all their names.
"""

from __future__ import annotations

import importlib
import inspect
import json
import linecache
import pkgutil
import re
import signal
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
from wrong_impls import RIGHT, WRONG

from course_lib import checks
from course_lib.checks import CHECKS, LESSONS, CheckResult, _engine
from course_lib.lessons import with_exercises

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # wrong code overflows

STEMS = [lesson.stem for lesson in with_exercises()]


def _text(result: CheckResult) -> str:
    return " ".join(result.messages).lower()


def _right(name):
    return next(fn for n, fn in RIGHT if n == name)


# ----------------------------------------------------------------------------- the contract
def test_lessons_and_checks_follow_the_contract():
    assert list(LESSONS) == STEMS
    names = [n for stem in STEMS for n in LESSONS[stem]]
    assert list(CHECKS) == names and len(set(names)) == len(names) >= 20
    for name, check in CHECKS.items():
        assert check.__name__ == f"check_{name}"
        assert getattr(checks, f"check_{name}") is check
        assert f"check_{name}" in checks.__all__


def test_check_result_reports():
    ok = CheckResult("softmax", True, ["All 3 cases passed."])
    bad = CheckResult("softmax", False, ["Use `x > 0` <not> `x >= 0`.", "Case: z (2,)."])
    assert ok and not bad
    assert str(ok).startswith("✓ softmax") and str(bad).startswith("✗ softmax")
    assert "  - Case: z (2,)." in str(bad)
    html = bad._repr_html_()
    assert "✗" in html and "<code>x &gt; 0</code>" in html and "&lt;not&gt;" in html
    assert "✓" in ok._repr_html_()
    assert json.loads(json.dumps(bad.to_dict())) == {"name": "softmax", "passed": False,
                                                     "messages": bad.messages}


# ----------------------------------------------------------------------------- the gallery
@pytest.mark.parametrize("name, fn, keyword", WRONG,
                         ids=[f"{n}-{fn.__name__}" for n, fn, _ in WRONG])
def test_wrong_implementation_is_rejected_with_its_hint(name, fn, keyword):
    result = CHECKS[name](fn)
    assert not result.passed
    assert keyword.lower() in _text(result), result.messages
    assert all(len(m) <= 320 for m in result.messages), result.messages


def test_gallery_covers_every_check_three_times():
    for name in CHECKS:
        assert sum(n == name for n, _, _ in WRONG) >= 3, name
        assert any(n == name for n, _ in RIGHT), name


@pytest.mark.parametrize("name, fn", RIGHT, ids=[f"{n}-{fn.__name__}" for n, fn in RIGHT])
def test_right_implementation_in_another_style_is_accepted(name, fn):
    result = CHECKS[name](fn)
    assert result.passed, result.messages
    assert "passed" in _text(result)


def _perturb(value):
    """A slightly wrong version of a returned value (ints +1, floats and arrays nudged, 0/1
    masks flipped), never the same value."""
    if isinstance(value, (tuple, list)):
        return tuple(_perturb(v) for v in value)
    if isinstance(value, (int, np.integer)):
        return value + 1
    if isinstance(value, (float, np.floating)):
        return value + 0.01 * (1 + abs(value))
    value = np.array(value)
    if value.dtype == bool or np.isin(value, (0, 1)).all():
        value.flat[0] = 1 - value.flat[0]
    else:
        value.flat[0] += 0.01 * (1 + abs(value.flat[0]))
    return value


@pytest.mark.parametrize("name", list(CHECKS))
def test_a_function_wrong_on_any_single_case_fails(name):
    """Right everywhere except on the k-th call: the check must notice, for every k."""
    fn, calls = _right(name), []

    def counted(*args, **kwargs):
        calls.append(1)
        return fn(*args, **kwargs)

    assert CHECKS[name](counted)
    for k in range(len(calls)):
        seen = []

        def wrong_once(*args, k=k, seen=seen, **kwargs):
            seen.append(1)
            out = fn(*args, **kwargs)
            return _perturb(out) if len(seen) == k + 1 else out

        assert not CHECKS[name](wrong_once), f"call {k} of {len(calls)} was wrong but passed"


# ----------------------------------------------------------------------------- not implemented
@pytest.mark.parametrize("name", list(CHECKS))
def test_stub_and_missing_function_are_not_implemented_yet(name):
    def stub(*args, **kwargs):
        # YOUR CODE HERE
        raise NotImplementedError()

    for fn in (stub, None):
        result = CHECKS[name](fn)
        assert not result.passed and "not implemented yet" in result.messages[0]


def test_not_a_function():
    result = checks.check_softmax(np.zeros(3))
    assert not result.passed and "should be a function" in result.messages[0]


def test_forgotten_return_is_named():
    def softmax(z):
        np.exp(z)

    result = checks.check_softmax(softmax)
    assert "None" in result.messages[0] and "return" in result.messages[0]


# ----------------------------------------------------------------------------- exceptions
def test_exception_reports_the_students_line():
    def conv2d_forward(x, w, b):
        out = np.zeros((x.shape[0], w.shape[0], 2, 2))
        out[0, 5] = 1.0
        return out

    result = checks.check_conv2d_forward(conv2d_forward)
    assert not result.passed
    assert result.messages[0].startswith("`conv2d_forward` raised IndexError")
    assert "test_checks.py, line" in result.messages[1]
    assert "`out[0, 5] = 1.0`" in result.messages[1]
    assert result.messages[-1].startswith("Case:")


def test_exception_in_a_notebook_cell_names_the_cell_line_and_a_broadcast_hint():
    filename = "/tmp/ipykernel_4242/123456.py"  # how ipykernel names a cell's code
    source = ("import numpy as np\n\n"
              "def conv2d_forward(x, w, b):\n"
              "    out = np.zeros((x.shape[0], w.shape[0], 2, 2))\n"
              "    return out + np.zeros(7)\n")
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {}
    exec(compile(source, filename, "exec"), namespace)
    try:
        result = checks.check_conv2d_forward(namespace["conv2d_forward"])
    finally:
        linecache.cache.pop(filename, None)
    assert "ValueError" in result.messages[0]
    assert result.messages[1] == ("It happened in `conv2d_forward` (line 5 of its cell): "
                                  "`return out + np.zeros(7)`.")
    assert "Print the shapes" in result.messages[2]


def test_exception_inside_the_library_points_at_the_students_call():
    from course_lib import functional as F

    def pad2d(x, padding):
        return F.pad2d(x.astype(int), padding)

    result = checks.check_pad2d(pad2d)
    assert "TypeError" in result.messages[0]
    assert "`return F.pad2d(x.astype(int), padding)`" in result.messages[1]


# ----------------------------------------------------------------------------- time limit
def _endless_pad2d(x, padding):
    total = 0
    while True:
        total += 1


def test_infinite_loop_is_stopped_by_the_time_limit():
    start = time.perf_counter()
    result = checks.check_pad2d(_endless_pad2d, time_limit=0.5)
    assert time.perf_counter() - start < 2.0
    assert not result.passed and "stopped after 0.5 s" in result.messages[0]


def test_loop_catching_every_exception_is_still_stopped():
    def relu_backward(dout, x):
        while True:
            try:
                time.sleep(0.01)
            except Exception:  # a student's blanket except must not swallow the time limit
                pass

    result = checks.check_relu_backward(relu_backward, time_limit=0.3)
    assert "stopped after 0.3 s" in result.messages[0]


def test_an_alarm_set_by_someone_else_is_given_back():
    signal.setitimer(signal.ITIMER_REAL, 100.0)
    try:
        assert checks.check_softmax(_right("softmax"))
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 95.0 < left <= 100.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def test_time_limit_off_the_main_thread_uses_a_worker_thread():
    stop = threading.Event()

    def slow_softmax(z):
        while not stop.wait(0.01):  # ends when the test is over: no CPU left spinning
            pass

    results = {}

    def run():
        results["slow"] = checks.check_softmax(slow_softmax, time_limit=0.3)
        results["right"] = checks.check_softmax(_right("softmax"))

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(10)
    stop.set()
    assert "stopped after 0.3 s" in results["slow"].messages[0]
    assert results["right"].passed


# ----------------------------------------------------------------------------- inputs and dtypes
def test_inputs_modified_in_place_are_caught():
    def conv2d_forward(x, w, b):
        out = _right("conv2d_forward")(x, w, b)
        x[...] = 0.0
        return out

    result = checks.check_conv2d_forward(conv2d_forward)
    assert not result.passed
    assert "changed its input `x` in place" in result.messages[0]


def test_float64_output_for_float32_input_is_named():
    def relu_backward(dout, x):
        return (dout * (x > 0)).astype(np.float64)

    result = checks.check_relu_backward(relu_backward)
    assert not result.passed and "dtype float64" in result.messages[0]
    assert "float32" in result.messages[0]


def test_tuple_output_reports_each_wrong_part_and_the_right_ones():
    def linear_backward(dout, x, w):  # w: (out_features, in_features), out = x @ w.T + b
        return dout @ w, x.T @ dout, dout

    messages = checks.check_linear_backward(linear_backward).messages
    assert "`dw` is transposed" in messages[0] and "`db` must be summed" in messages[1]
    assert messages[2] == "(`dx` is right.)"


def test_wrong_number_of_outputs():
    result = checks.check_conv2d_backward(lambda dout, x, w, stride=1, padding=0: x)
    assert "should return a tuple (dx, dw, db)" in result.messages[0]
    result = checks.check_conv2d_backward(lambda dout, x, w, stride=1, padding=0: (x, w))
    assert "should return 3 values" in result.messages[0]


def test_unrecognised_mistake_gets_a_precise_generic_message():
    def softmax(z):
        return np.full_like(z, 0.5)

    result = checks.check_softmax(softmax)
    assert result.messages[0].startswith("Your output has wrong values: at index (3, 2) it is 0.5")


def test_wrong_shape_gets_the_expected_shape_in_words():
    def conv2d_forward(x, w, b):
        return np.zeros((x.shape[0], w.shape[0], 1, 1), dtype=x.dtype)

    message = checks.check_conv2d_forward(conv2d_forward).messages[0]
    assert "shape (1, 1, 1, 1), expected (1, 1, 2, 3)" in message
    assert "OH = H - KH + 1" in message


def test_a_helper_that_is_still_a_stub_is_named():
    def pad2d(x, padding):
        raise NotImplementedError()

    def conv2d_forward_general(x, w, b, stride=1, padding=0):
        xp = pad2d(x, padding)
        return xp

    message = checks.check_conv2d_forward_general(conv2d_forward_general).messages[0]
    assert message == ("`conv2d_forward_general` calls `pad2d`, which is not implemented yet: "
                       "write `pad2d` first.")


def test_numbers_that_look_equal_are_printed_with_more_digits():
    def cross_entropy(logits, y):
        return _right("cross_entropy")(logits, y) + 1e-6

    message = checks.check_cross_entropy(cross_entropy).messages[0]
    got, want = message.removeprefix("Your output is ").rstrip(".").split(", expected ")
    assert got != want


def test_a_missing_parameter_is_explained():
    def conv2d_forward_general(x, w, b):
        return x

    messages = checks.check_conv2d_forward_general(conv2d_forward_general).messages
    assert "TypeError" in messages[0]
    assert messages[1] == ("The check calls `conv2d_forward_general(x, w, b, stride, padding)`: "
                           "give your function these parameters.")


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-1.0, ValueError),
                                        (float("inf"), ValueError), ("5", TypeError),
                                        (True, TypeError)])
def test_time_limit_is_validated(bad, error):
    with pytest.raises(error, match="time_limit"):
        checks.check_softmax(_right("softmax"), time_limit=bad)


# ----------------------------------------------------------------------------- implementations
# Every Spec names the course_lib functions that compute what the student writes; while grading
# they raise, so a graded function calling one scores 0.

# The modules searched for other names of a listed function (``from .x import f`` makes one):
# all but the grader, the exercise generator and the slides, which compute no lesson operation.
ALIAS_MODULES = ["", "functional", "fast_conv", "readable", "layers", "validate", "model",
                 "gradcheck", "optim", "data", "models", "train", "viz", "widgets", "checks"]


def _specs():
    """(slug, spec) for every graded function, in lesson order."""
    return [(lesson.slug, CHECKS[name].spec) for lesson in with_exercises()
            for name in LESSONS[lesson.stem]]


def _resolve(dotted: str):
    """The object ``course_lib.<module>.<qualname>`` names: the longest importable module
    prefix, then getattr along the rest."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(["course_lib", *parts[:cut]]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise LookupError(dotted)


def _bindings():
    """Every name a function is reachable by in course_lib: module globals and class
    attributes (unwrapping staticmethods), as {id(function): {"module.qualname", ...}}."""
    found: dict[int, set[str]] = {}
    packages = [importlib.import_module(f"course_lib.{m}".rstrip(".")) for m in ALIAS_MODULES]
    modules = list(packages)
    for package in packages:
        if hasattr(package, "__path__") and package.__name__ != "course_lib":
            modules += [importlib.import_module(info.name)
                        for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
    for module in modules:
        prefix = module.__name__.removeprefix("course_lib").lstrip(".")
        for name, value in vars(module).items():
            where = f"{prefix}.{name}".lstrip(".")
            if inspect.isfunction(value):
                found.setdefault(id(value), set()).add(where)
            elif inspect.isclass(value) and value.__module__.startswith("course_lib"):
                # a class re-exported elsewhere is one object: name it where it is defined
                owner = f"{value.__module__.removeprefix('course_lib.')}.{value.__qualname__}"
                for attr, member in vars(value).items():
                    member = getattr(member, "__func__", member)  # staticmethod, classmethod
                    if inspect.isfunction(member):
                        found.setdefault(id(member), set()).add(f"{owner}.{attr}")
    return found


@pytest.mark.parametrize("slug, spec", _specs(), ids=[s.name for _, s in _specs()])
def test_implementations_name_real_course_lib_functions(slug, spec):
    assert spec.implementations, f"{spec.name} names no course_lib implementation"
    assert len(set(spec.implementations)) == len(spec.implementations)
    for dotted in spec.implementations:
        assert not dotted.startswith("course_lib."), dotted  # relative to the package
        assert inspect.isfunction(_resolve(dotted)), dotted


def test_every_name_of_a_listed_implementation_is_listed_too():
    """``from .functional import f`` elsewhere makes a second name that switching off
    ``functional.f`` would miss (a class attribute like ``_forward = staticmethod(f)`` too)."""
    bindings = _bindings()
    for _, spec in _specs():
        for dotted in spec.implementations:
            fn = _resolve(dotted)
            definition = f"{fn.__module__.removeprefix('course_lib.')}.{fn.__qualname__}"
            # (a method listed through a subclass, layers.MaxPool2d.forward for the forward
            # defined in layers._Pool2d, is the definition itself: not another name)
            others = bindings.get(id(fn), set()) - {definition}
            missing = others - set(spec.implementations)
            assert not missing, f"{spec.name}: {dotted} is also reachable as {sorted(missing)}"


# ----------------------------------------------------------------------------- honest diagnoses
# The grader draws fresh case seeds: the checks must tell the mistakes apart for any seed.
SEEDS = ("notebook", 11, 12)


def _cases(spec, seed):
    if seed == "notebook":
        seed = _engine.check_seed(spec.name)
    return spec.cases(np.random.default_rng(seed))


def _differ(x, y, float32: bool) -> bool:
    """x and y are not the same answer (the loose tolerance the checks recognise mistakes
    with; NaN equals NaN, inf equals inf)."""
    x, y = np.asarray(x), np.asarray(y)
    if x.shape != y.shape or x.dtype.kind not in "fiub" or y.dtype.kind not in "fiub":
        return True
    x, y = x.astype(np.float64), y.astype(np.float64)
    scale = float(np.max(np.abs(y[np.isfinite(y)]), initial=1.0))
    rtol = 1e-3 if float32 else 1e-6
    return not np.allclose(x, y, rtol=rtol, atol=rtol * scale, equal_nan=True)


def _constant(value) -> bool:
    value = np.asarray(value)
    return value.size > 1 and value.dtype.kind in "fiub" and bool(np.all(value == value.flat[0]))


def _candidate(spec, mistake, args: dict):
    """(right answer of the mistake's output, what code with the mistake returns or None)."""
    ref = spec.reference(**{k: v.copy() if isinstance(v, np.ndarray) else v
                            for k, v in args.items()})
    if mistake.part:
        ref = ref[spec.parts.index(mistake.part)]
    try:
        with np.errstate(all="ignore"):
            return ref, mistake.output(SimpleNamespace(**args), ref)
    except Exception:  # noqa: BLE001 - a mistake that cannot be made on this case
        return ref, None


OUTPUT_SPECS = [(s.name, s) for _, s in _specs() if any(m.output for m in s.mistakes)]
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name, spec", OUTPUT_SPECS, ids=[n for n, _ in OUTPUT_SPECS])
def test_every_mistake_shows_and_is_told_apart_from_the_others(name, spec, seed):
    """Each mistake with an ``output`` is wrong on some case (and not a constant, which is
    never used as a diagnosis); for every other mistake of the same output with another
    message, some case where the first is wrong gives the second a different answer."""
    mistakes = [m for m in spec.mistakes if m.output is not None]
    cases = _cases(spec, seed)
    table = [[_candidate(spec, m, c.copy_args()) for m in mistakes] for c in cases]

    def wrong(case, ref, candidate):
        return (candidate is not None and not _constant(candidate)
                and _differ(candidate, ref, case.float32))

    for i, mistake in enumerate(mistakes):
        assert any(wrong(c, *row[i]) for c, row in zip(cases, table, strict=True)), (
            f"never wrong: {mistake.message}")
        for j, other in enumerate(mistakes):
            if other.part != mistake.part or other.message == mistake.message:
                continue
            assert any(wrong(c, *row[i]) and (row[j][1] is None
                                              or _differ(row[i][1], row[j][1], c.float32))
                       for c, row in zip(cases, table, strict=True)), (
                f"no case tells [{mistake.message}] from [{other.message}]")


def _making(spec, mistake):
    """A student function that makes ``mistake`` (and is right where it changes nothing)."""
    signature = inspect.signature(spec.reference)

    def student(*args, **kwargs):
        given = dict(signature.bind(*args, **kwargs).arguments)
        ref, candidate = _candidate(spec, mistake, given)
        float32 = any(isinstance(v, np.ndarray) and v.dtype == np.float32
                      for v in given.values())
        if candidate is None or not _differ(candidate, ref, float32):
            candidate = ref
        elif isinstance(candidate, np.ndarray) and isinstance(ref, np.ndarray):
            candidate = candidate.astype(ref.dtype)
        if not mistake.part:
            return candidate
        whole = list(spec.reference(**given))
        whole[spec.parts.index(mistake.part)] = candidate
        return tuple(whole)

    return student


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name, spec", OUTPUT_SPECS, ids=[n for n, _ in OUTPUT_SPECS])
def test_every_mistake_is_named_on_the_first_case_it_gets_wrong(name, spec, seed, monkeypatch):
    """The check stops at the first wrong case: there, code making the mistake must be told
    this mistake's message, not another's."""
    if seed != "notebook":
        monkeypatch.setattr(_engine, "check_seed", lambda name, seed=seed: seed)
    for mistake in spec.mistakes:
        if mistake.output is None:
            continue
        result = CHECKS[name](_making(spec, mistake))
        assert not result.passed and mistake.message in result.messages, (
            mistake.message, result.messages)


# ----------------------------------------------------------------------------- case labels
_LABEL_NUMBERS = {"stride": r"stride[ =](\d+)", "padding": r"padding[ =](\d+)\b",
                  "dilation": r"dilation[ =](\d+)", "kernel_size": r"(\d+) x \1 windows"}


@pytest.mark.parametrize("seed", SEEDS)
def test_case_labels_say_what_their_arguments_are(seed):
    """A number a label gives for the stride, padding, dilation or window, "float32",
    "no padding" and "batch 1" agree with the case's arguments."""
    for _, spec in _specs():
        for case in _cases(spec, seed):
            label, args = case.label, case.args
            where = f"{spec.name}: {label!r} with {case.describe()}"
            for arg, pattern in _LABEL_NUMBERS.items():
                for number in re.findall(pattern, label):
                    assert args.get(arg) == int(number), where
            assert ("float32" in label) == case.float32, where
            if "no padding" in label:
                assert args.get("padding", 0) == 0, where
            if re.search(r"\bbatch 1\b", label):
                first = next(v for v in args.values() if isinstance(v, np.ndarray))
                assert first.shape[0] == 1, where


def test_every_listed_implementation_is_switched_off_where_it_is_defined():
    """The grader's sandbox rewrites a listed function at its definition (that covers every
    re-export), so each listed name's defining ``module.qualname`` must be listed too: a
    function moved to another module must not quietly stay on while grading."""
    missing = []
    for _, spec in _specs():
        for dotted in spec.implementations:
            fn = _resolve(dotted)
            definition = f"{fn.__module__.removeprefix('course_lib.')}.{fn.__qualname__}"
            if definition not in spec.implementations:
                missing.append(f"{spec.name}: {dotted} is defined as {definition}")
    assert not missing, "\n".join(missing)
