"""Corpus scans: analyse every image and video of a folder tree, on Ray or in this process, one row per file.

>>> from facetrust.scan import scan_corpus, read_results
>>> summary = scan_corpus(paths, "results.parquet", workers=2)      # doctest: +SKIP
>>> rows = read_results("results.parquet")                          # doctest: +SKIP

Rows are written as each file finishes (``.parquet``: a folder of part files; ``.jsonl``: JSON Lines), and a
second scan into the same output skips the files it already holds. Ray is imported only when a scan starts.
The CLI is ``facetrust scan`` (see docs/scan.md).
"""

from facetrust.scan.rows import analyze_file, columns, row_schema
from facetrust.scan.runner import CorpusScan, ScanSummary, check_analyze_options, scan_corpus
from facetrust.scan.store import OutputInUseError, ResultStore, open_store, output_format, read_results

__all__ = [
    "CorpusScan",
    "OutputInUseError",
    "ResultStore",
    "ScanSummary",
    "analyze_file",
    "check_analyze_options",
    "columns",
    "open_store",
    "output_format",
    "read_results",
    "row_schema",
    "scan_corpus",
]
