"""The registry the gallery modules fill."""

WRONG: list[tuple[str, object, str]] = []   # (graded name, function, keyword of the hint)
RIGHT: list[tuple[str, object]] = []        # (graded name, function)


def wrong(name: str, keyword: str):
    def register(fn):
        WRONG.append((name, fn, keyword))
        return fn
    return register


def right(name: str):
    def register(fn):
        RIGHT.append((name, fn))
        return fn
    return register
