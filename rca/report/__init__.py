"""The HTML report: one self-contained page (inline CSS, embedded PNG figures, no JavaScript)
that a person on call can read in two minutes.

Why self-contained: reports are mailed, attached to tickets and opened on air-gapped
laptops; a page that fetches anything would break there, and would leak the cluster's
names to whatever it fetched from.
"""

from rca.report.render import render_report, write_report

__all__ = ["render_report", "write_report"]
