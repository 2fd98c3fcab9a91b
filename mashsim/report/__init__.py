"""The report layer: figures, the HTML planning report and the model description.

`plots` (matplotlib figures), `page` (the self-contained HTML report), `stress` (the
STRESS-DES description and staff balance) and `fit_report` (the calibration report).
matplotlib is imported only by `plots` and `fit_report`.
"""

from __future__ import annotations

from mashsim.report.page import (
    Report,
    answer_paragraph,
    build_report,
    display_label,
    hub_label,
    hub_table,
    report_balance,
    staffing_table,
    sweep_answer,
    write_report,
)

__all__ = [
    "Report",
    "answer_paragraph",
    "build_report",
    "display_label",
    "hub_label",
    "hub_table",
    "report_balance",
    "staffing_table",
    "sweep_answer",
    "write_report",
]
