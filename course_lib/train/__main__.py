"""``python -m course_lib.train``: see ``course_lib.train.cli``."""

from .cli import main

if __name__ == "__main__":  # not when a tool walks the package's modules
    main()
