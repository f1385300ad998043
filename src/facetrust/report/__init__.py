"""Report stage: the result of analysing one media file, serialisable and printable."""

from facetrust.report.report import FrameScore, MemberScore, PersonReport, Report, format_time

__all__ = ["FrameScore", "MemberScore", "PersonReport", "Report", "format_time"]
