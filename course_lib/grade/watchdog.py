"""``python -m course_lib.grade.watchdog PARENT FOLDER CGROUPS``: clean up after a grader.

The grader (``cli.main``) starts it detached, in a session of its own, at the beginning of a
run. When the grader process PARENT is gone, even killed by SIGKILL, this kills what is left
in the grader's sandbox cgroups (``CGROUPS/*/course-grade-PARENT-*``), removes them and the
grader's temporary FOLDER. It exits at once if FOLDER goes first (the grader cleaned up).
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import time
from pathlib import Path

from .sandbox import CGROUP_PREFIX, remove_cgroup


def watch(parent: int, folder: Path, cgroups: Path) -> None:
    """Wait while process ``parent`` lives and ``folder`` exists; then clean up."""
    while True:
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            break
        if not folder.is_dir():
            return
        time.sleep(0.5)
    for group in glob.glob(str(cgroups / "*" / f"{CGROUP_PREFIX}{parent}-*")):
        remove_cgroup(Path(group))
    time.sleep(0.5)
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    watch(int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
