"""Report stage: the result of analysing one media file, serialisable and printable."""

from facetrust.report.report import FrameScore, PersonReport, Report, format_time

__all__ = ["FrameScore", "PersonReport", "Report", "format_time"]
