"""The bad-input corpus (issue 14): every kind, through the Python API and the CLI, gets its expected named
error or verdict class: never a traceback, never a probability for a file that failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import facetrust
from facetrust.cli.main import app

from .bad_inputs import VERDICT, build_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Path, str]]:
    return build_corpus(tmp_path_factory.mktemp("bad") / "corpus")


def _outcome(report: facetrust.Report) -> str:
    return "NO_FACE" if str(report.verdict) == "NO_FACE" else VERDICT


def test_the_corpus_has_at_least_40_kinds(corpus: list[tuple[str, Path, str]]) -> None:
    assert len({name for name, _, _ in corpus}) >= 40
    assert len({expected for _, _, expected in corpus}) >= 7  # five error types, NO_FACE and verdicts


def test_every_kind_gets_its_outcome_from_the_api(corpus: list[tuple[str, Path, str]], tiny_detector: Path) -> None:
    wrong = []
    for name, path, expected in corpus:
        try:
            report = facetrust.analyze(path, detector=str(tiny_detector), frames=4, device="cpu")
        except facetrust.FacetrustError as exc:
            got = type(exc).__name__
        else:
            got = _outcome(report)
            assert (report.fake_probability is None) == (got == "NO_FACE"), name
        if got != expected:
            wrong.append(f"{name}: expected {expected}, got {got}")
    assert not wrong, "\n".join(wrong)


def test_every_kind_gets_its_outcome_from_one_cli_batch(corpus: list[tuple[str, Path, str]], tiny_detector: Path,
                                                         tmp_path: Path) -> None:
    corpus = [case for case in corpus if not case[1].is_dir()]  # the CLI searches a folder for media instead
    out_json = tmp_path / "results.json"
    result = CliRunner().invoke(app, ["detect", *(str(p) for _, p, _ in corpus), "--detector", str(tiny_detector),
                                      "--frames", "4", "--json", str(out_json)])
    assert result.exit_code == 1 and "Traceback" not in result.output  # some inputs failed, the rest went on
    entries = json.loads(out_json.read_text())["results"]
    assert len(entries) == len(corpus)
    wrong = []
    for (name, _, expected), entry in zip(corpus, entries, strict=True):
        if entry["error"] is not None:
            got = entry["error"]["type"]
            assert entry["fake_probability"] is None, name
        else:
            got = "NO_FACE" if entry["verdict"] == "NO_FACE" else VERDICT
        if got != expected:
            wrong.append(f"{name}: expected {expected}, got {got}")
    assert not wrong, "\n".join(wrong)
    assert len([line for line in result.stdout.splitlines() if line.strip()]) == len(corpus)  # one line each
