"""The CAPA report: one record as a PDF an auditor can file.

``content.report_content`` turns a record (its ``CapaState``), the printed names of the people it names and who asks
for the report into plain JSON values, every text already in the form people read; ``render.render_pdf`` lays them
out with the Typst template ``capa_report.typ``. The record's text reaches Typst only as JSON data (``sys.inputs``),
never as markup, so whatever a title or an evidence says is printed as written.
"""

from report.content import ReportContent, report_content
from report.render import render_pdf

__all__ = ["ReportContent", "render_pdf", "report_content"]
