"""Evaluation of a detector on a labelled set: metrics with bootstrap intervals, figures, markdown tables.

``binary_report`` computes everything from labels and fake probabilities; ``video_level`` turns frame scores
into video scores first; ``write_outputs`` writes the files of ``facetrust eval``. matplotlib is imported
only when a figure is drawn."""

from facetrust.evaluation.metrics import (
    CalibrationBin,
    Curves,
    EvalReport,
    Interval,
    MethodMetrics,
    VideoScores,
    binary_report,
    video_level,
)
from facetrust.evaluation.plots import plot_curves, plot_pr, plot_reliability, plot_roc
from facetrust.evaluation.tables import comparison_row, comparison_table, markdown_table, write_outputs

__all__ = [
    "CalibrationBin",
    "Curves",
    "EvalReport",
    "Interval",
    "MethodMetrics",
    "VideoScores",
    "binary_report",
    "comparison_row",
    "comparison_table",
    "markdown_table",
    "plot_curves",
    "plot_pr",
    "plot_reliability",
    "plot_roc",
    "video_level",
    "write_outputs",
]
