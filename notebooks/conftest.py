"""nbval on the lessons alone (``pytest notebooks/X.ipynb``) audits figure text sizes too:
the kernels inherit this variable (see ``course_lib.viz.audit_figure_text``)."""

import os

os.environ["COURSE_AUDIT_FIGURES"] = "1"
