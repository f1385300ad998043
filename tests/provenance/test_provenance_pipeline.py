"""Provenance beside detection: in the Report, the verdict rule, and ``facetrust detect``'s line, JSON and CSV."""

from __future__ import annotations

import csv
import json
import os
import traceback
from pathlib import Path

import pytest
from typer.testing import CliRunner

import facetrust
from facetrust.cli.main import app
from facetrust.provenance import TRUST_ANCHORS_ENV
from facetrust.types import Label

from .conftest import EXPECTED, Fixtures

runner = CliRunner()


def analyze(path: Path | object, detector: Path, **kwargs: object) -> facetrust.Report:
    return facetrust.analyze(path, detector=str(detector), device="cpu", **kwargs)  # type: ignore[arg-type]


def run(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        "".join(traceback.format_exception(*result.exc_info)) + result.output)
    return result


def test_report_carries_provenance_and_json(fixtures: Fixtures, tiny_detector: Path) -> None:
    report = analyze(fixtures / "ai.jpg", tiny_detector)
    assert report.provenance.status == "verified_ai_generated" and report.provenance.checked
    assert "provenance" in report.timings
    data = report.to_dict()
    assert data["provenance"]["status"] == "verified_ai_generated"
    assert data["provenance"]["actions"][0]["digital_source_type"] == "trainedAlgorithmicMedia"
    assert data["verdict_reason"] is None
    assert json.loads(report.to_json())["provenance"]["signer"] == "Facetrust Test Signer"


def test_trusted_ai_declaration_raises_the_verdict_and_keeps_the_probability(
    fixtures: Fixtures, tiny_detector: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TRUST_ANCHORS_ENV, raising=False)
    untrusted = analyze(fixtures / "ai.jpg", tiny_detector, threshold=0.99)
    assert untrusted.verdict in (Label.REAL, Label.UNCERTAIN) and untrusted.verdict_reason is None
    monkeypatch.setenv(TRUST_ANCHORS_ENV, str(fixtures.anchors))
    trusted = analyze(fixtures / "ai.jpg", tiny_detector, threshold=0.99)
    assert trusted.verdict is Label.FAKE and trusted.provenance.trusted
    assert trusted.fake_probability == untrusted.fake_probability  # the detector's number is untouched
    assert trusted.people[0].verdict is untrusted.people[0].verdict  # per-person labels stay the detector's
    assert trusted.verdict_reason is not None
    assert trusted.verdict_reason.startswith(f"raised from {untrusted.verdict}")
    assert "trainedAlgorithmicMedia" in trusted.verdict_reason


def test_provenance_never_lowers_or_clears_a_fake(
    fixtures: Fixtures, tiny_detector: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TRUST_ANCHORS_ENV, str(fixtures.anchors))
    reports = {name: analyze(fixtures / name, tiny_detector, threshold=0.01)
               for name in ("plain.jpg", "capture.jpg", "edited.jpg", "ai.jpg")}
    assert reports["capture.jpg"].provenance.status == "verified_capture" and reports["capture.jpg"].provenance.trusted
    for name, report in reports.items():  # the pixels are the same: so is every probability and verdict
        assert report.verdict is Label.FAKE, name
        assert report.fake_probability == reports["plain.jpg"].fake_probability, name
        assert report.verdict_reason is None, name  # FAKE already: nothing to raise


def test_no_face_stays_no_face(fixtures: Fixtures, tiny_detector: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TRUST_ANCHORS_ENV, str(fixtures.anchors))
    report = analyze(fixtures / "ai_no_face.jpg", tiny_detector)
    assert report.verdict is Label.NO_FACE and report.verdict_reason is None
    assert report.provenance.status == "verified_ai_generated" and report.provenance.trusted


def test_arrays_have_no_provenance(tiny_detector: Path) -> None:
    from conftest import astronaut

    report = analyze(astronaut(), tiny_detector)
    assert report.provenance.status == "none" and not report.provenance.checked
    assert "array" in report.provenance.meaning


def test_tampered_video_is_still_analysed(fixtures: Fixtures, tiny_detector: Path) -> None:
    report = analyze(fixtures / "frames_changed.mp4", tiny_detector, frames=4)
    assert report.provenance.status == "invalid_or_tampered" and report.frames_sampled == 4


@pytest.mark.slow  # thirteen inputs through the whole pipeline
def test_detect_prints_and_writes_each_status(fixtures: Fixtures, tiny_detector: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRUST_ANCHORS_ENV, raising=False)
    names = sorted(EXPECTED)
    out_json, out_csv = tmp_path / "out.json", tmp_path / "out.csv"
    result = run("detect", *(str(fixtures / n) for n in names), "--detector", str(tiny_detector), "--frames", "2",
                 "--json", str(out_json), "--csv", str(out_csv))
    assert result.exit_code == 0, result.output
    lines = {Path(line.split()[0]).name: line for line in result.stdout.splitlines() if line.strip()}
    for name in names:
        status = EXPECTED[name]
        assert (f"provenance: {status}" in lines[name]) == (status != "none"), lines[name]
    assert "signed by Facetrust Test Signer (untrusted)" in lines["ai.jpg"]
    results = {Path(r["path"]).name: r for r in json.loads(out_json.read_text())["results"]}
    assert {n: results[n]["provenance"]["status"] for n in names} == EXPECTED
    rows = {Path(r["path"]).name: r for r in csv.DictReader(out_csv.open(encoding="utf-8"))}
    assert {n: rows[n]["provenance_status"] for n in names} == EXPECTED
    assert rows["ai.jpg"]["provenance_trusted"] == "False" and rows["plain.jpg"]["provenance_trusted"] == ""
    assert rows["ai.jpg"]["provenance_signer"] == "Facetrust Test Signer"


def test_detect_trust_anchors_option(fixtures: Fixtures, tiny_detector: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRUST_ANCHORS_ENV, raising=False)
    out_csv = tmp_path / "out.csv"
    result = run("detect", str(fixtures / "ai.jpg"), "--detector", str(tiny_detector), "--threshold", "0.99",
                 "--trust-anchors", str(fixtures.anchors), "--csv", str(out_csv))
    assert result.exit_code == 0, result.output
    assert "FAKE" in result.stdout and "(trusted) -> FAKE by provenance" in result.stdout
    (row,) = csv.DictReader(out_csv.open(encoding="utf-8"))
    assert row["verdict"] == "FAKE" and row["provenance_trusted"] == "True"
    assert row["verdict_reason"].startswith("raised from")
    assert TRUST_ANCHORS_ENV not in os.environ  # the option does not outlive the command
    missing = run("detect", str(fixtures / "ai.jpg"), "--trust-anchors", str(tmp_path / "absent.pem"))
    assert missing.exit_code == 2 and "--trust-anchors" in missing.stderr


def test_detect_resume_repeats_the_status(fixtures: Fixtures, tiny_detector: Path, tmp_path: Path) -> None:
    out_json = tmp_path / "out.json"
    args = ("detect", str(fixtures / "xmp_ai.jpg"), "--detector", str(tiny_detector), "--json", str(out_json))
    assert run(*args).exit_code == 0
    again = run(*args, "--resume")
    assert "provenance: declared_ai_generated" in again.stdout and "from the earlier run" in again.stdout
