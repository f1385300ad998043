"""Figures, markdown tables and the files written by facetrust.evaluation.write_outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from facetrust.errors import InputError
from facetrust.evaluation import (
    EvalReport,
    binary_report,
    comparison_row,
    comparison_table,
    markdown_table,
    plot_curves,
    plot_pr,
    plot_reliability,
    plot_roc,
    write_outputs,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(150, int), np.ones(150, int)]
    scores = 1 / (1 + np.exp(-np.r_[rng.normal(-1.5, 1, 150), rng.normal(1.5, 1, 150)]))
    methods = ["real"] * 150 + ["Deepfakes"] * 75 + ["Face|Swap"] * 75
    return labels, scores, methods


@pytest.fixture(scope="module")
def report(data: tuple[np.ndarray, np.ndarray, list[str]]) -> EvalReport:
    labels, scores, methods = data
    return binary_report(labels, scores, methods=methods, n_bootstrap=200)


def test_write_outputs_writes_every_file(tmp_path: Path, report: EvalReport, data: tuple) -> None:
    paths = write_outputs(report, tmp_path / "out", prefix="ffpp_")
    assert set(paths) == {"json", "markdown", "roc", "pr", "reliability"}
    assert [p.name for p in paths.values()] == [
        "ffpp_metrics.json",
        "ffpp_metrics.md",
        "ffpp_roc.png",
        "ffpp_pr.png",
        "ffpp_reliability.png",
    ]
    for kind in ("roc", "pr", "reliability"):
        _assert_png(paths[kind])
    assert EvalReport.from_dict(json.loads(paths["json"].read_text())) == report
    assert paths["markdown"].read_text() == markdown_table(report)
    labels, scores, _ = data
    again = write_outputs(report, tmp_path / "full", labels=labels, scores=scores)
    _assert_png(again["roc"])
    with pytest.raises(InputError, match="not the ones"):
        write_outputs(report, tmp_path / "bad", labels=labels[:10], scores=scores[:10])
    with pytest.raises(InputError, match="both"):
        write_outputs(report, tmp_path / "bad", labels=labels)


def test_plots_accept_arrays_mappings_and_single_class(
    tmp_path: Path, report: EvalReport, data: tuple
) -> None:
    labels, scores, _ = data
    assert plot_roc((labels, scores), tmp_path / "a" / "roc.png") == tmp_path / "a" / "roc.png"
    _assert_png(plot_pr({"ours": report, "shuffled": (labels, scores[::-1])}, tmp_path / "pr.png"))
    one_class = binary_report([0, 0, 0], [0.1, 0.2, 0.6], n_bootstrap=0)
    for plot in (plot_roc, plot_pr, plot_reliability):
        _assert_png(plot(one_class, tmp_path / f"{plot.__name__}.png"))
    with pytest.raises(InputError, match="cannot plot"):
        plot_roc("report.json", tmp_path / "x.png")  # type: ignore[arg-type]


def test_plot_curves_from_records_and_columns(tmp_path: Path) -> None:
    steps = [{"step": i, "epoch": i / 10, "loss": 1 / (1 + i), "accuracy": i / 30} for i in range(1, 31)]
    for epoch in (1, 2, 3):  # validation only at epoch ends
        steps[epoch * 10 - 1] = {**steps[epoch * 10 - 1], "val_loss": 0.5 / epoch, "val_accuracy": 0.6}
    _assert_png(plot_curves(steps, tmp_path / "curves.png"))
    dense = {"loss": list(np.linspace(1, 0.1, 400)), "acc": list(np.linspace(0.5, 0.9, 400))}
    _assert_png(plot_curves(dense, tmp_path / "dense.png"))
    _assert_png(plot_curves([{"epoch": 1, "loss": 0.4}, {"epoch": 2, "loss": 0.3}], tmp_path / "loss.png"))
    with pytest.raises(InputError, match="no loss or accuracy.*lr"):
        plot_curves([{"epoch": 1, "lr": 0.1}], tmp_path / "none.png")
    with pytest.raises(InputError, match="empty"):
        plot_curves([], tmp_path / "empty.png")


def test_markdown_table_rows(report: EvalReport) -> None:
    text = markdown_table(report, title="default on FF++ test")
    assert text.startswith("### default on FF++ test\n")
    assert "| metric | value | 95% CI (200 resamples of items) |" in text
    assert "| items | 300 (150 real, 150 fake) | |" in text
    auc, ci = report.auc, report.intervals["auc"]
    assert auc is not None and ci is not None
    assert f"| ROC AUC | {auc:.4f} | [{ci.low:.4f}, {ci.high:.4f}] |" in text
    c = report.confusion
    assert f"| real | {c['tn']} (TN) | {c['fp']} (FP) |" in text
    assert f"| fake | {c['fn']} (FN) | {c['tp']} (TP) |" in text
    assert "| Deepfakes | 75 |" in text and "| Face\\|Swap | 75 |" in text  # pipes escaped
    assert "Notes:" not in text


def test_markdown_table_shows_na_and_notes() -> None:
    text = markdown_table(binary_report([1, 1], [0.2, 0.9], n_bootstrap=0))
    assert "| ROC AUC | n/a | n/a |" in text and "| log-loss |" in text and "95% CI (not computed)" in text
    assert "Notes:" in text and "- no real items" in text


def test_comparison_table(report: EvalReport) -> None:
    rows = [
        comparison_row("default", report, frames_per_s=812.4),
        {
            "detector": "xception",
            "accuracy": 0.5,
            "precision": None,
            "recall": 0.25,
            "f1": 0.3,
            "auc": 0.99,
            "fps": 95.0,
        },
        {"detector": "no-timing", **{k: v for k, v in report.to_dict().items() if k in ("accuracy", "auc")}},
    ]
    lines = comparison_table(rows).splitlines()
    assert lines[0] == "| detector | accuracy | precision | recall | F1 | AUC | frames/s |"
    assert len(lines) == 5
    assert lines[2].startswith(f"| default | **{report.accuracy:.4f}** |")
    assert lines[2].endswith("| **812.4** |")
    assert lines[3] == "| xception | 0.5000 | n/a | 0.2500 | 0.3000 | **0.9900** | 95.0 |"
    assert lines[4] == f"| no-timing | **{report.accuracy:.4f}** | n/a | n/a | n/a | {report.auc:.4f} | n/a |"
    with pytest.raises(InputError):
        comparison_table([])
