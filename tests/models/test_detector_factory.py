"""create_detector / list_detectors / Detector: names, aliases, missing bundled weights, scoring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import facetrust.models.catalog as catalog
import facetrust.models.factory as factory
from facetrust.errors import ConfigError, UnknownNameError, WeightsError
from facetrust.models import (
    BUNDLED_WEIGHTS_DIR,
    DETECTOR_ALIASES,
    Detector,
    DetectorInfo,
    create_detector,
    list_detectors,
)
from facetrust.scoring import logits_to_probabilities


@pytest.fixture
def alias_to_tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(factory.DETECTOR_ALIASES, "default", "tiny")


@pytest.fixture
def bundled_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point the bundled weights directory at a path that does not exist yet."""
    directory = tmp_path / "bundled"
    monkeypatch.setattr(catalog, "BUNDLED_WEIGHTS_DIR", directory)
    return directory


def test_bundled_weights_dir_is_inside_the_package() -> None:
    assert BUNDLED_WEIGHTS_DIR.resolve() == Path(factory.__file__).resolve().parent.parent / "weights"
    assert set(DETECTOR_ALIASES) == {"default"}


def test_create_by_name_alias_and_path(
    weights_dir: Path, alias_to_tiny: None, crops: list[np.ndarray]
) -> None:
    by_name = create_detector("tiny", weights_dir=weights_dir, device="cpu")
    by_alias = create_detector("default", weights_dir=weights_dir, device="cpu")
    by_path = create_detector(str(weights_dir / "tiny.json"), device="cpu")
    by_pathlike = create_detector(weights_dir / "tiny.json", device="cpu")
    results = [d.predict_proba(crops) for d in (by_name, by_alias, by_path, by_pathlike)]
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])
    assert by_name.name == "tiny" and by_name.device == torch.device("cpu")
    assert "tiny" in repr(by_name)


def test_predict_proba_is_the_tempered_sigmoid_of_the_logits(
    weights_dir: Path, crops: list[np.ndarray]
) -> None:
    detector = create_detector("tiny", weights_dir=weights_dir, device="cpu")
    assert detector.spec.temperature == 1.5
    probs, logits = detector.predict_proba(crops), detector.logits(crops)
    assert probs.shape == logits.shape == (len(crops),)
    assert probs.dtype == np.float32
    assert ((probs >= 0) & (probs <= 1)).all()
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-logits / 1.5)), rtol=1e-5)
    np.testing.assert_allclose(probs, logits_to_probabilities(logits, 1.5))
    stacked = np.stack([c[:64, :64] for c in crops if min(c.shape[:2]) >= 64])
    assert detector.predict_proba(stacked, batch_size=2).shape == (len(stacked),)


def test_misspelt_default_suggests_default(weights_dir: Path, bundled_dir: Path) -> None:
    for directory in (weights_dir, None):  # with detectors present, and with the bundled dir absent
        with pytest.raises(UnknownNameError) as info:
            create_detector("defualt", weights_dir=directory, device="cpu")
        assert "default" in info.value.close_matches
        assert info.value.kind == "detector"
        assert "Did you mean 'default'" in str(info.value)


def test_missing_bundled_weights_say_how_to_get_them(bundled_dir: Path) -> None:
    for state in ("absent", "empty"):
        if state == "empty":
            bundled_dir.mkdir()
            (bundled_dir / "README.md").write_text("weights go here")
        with pytest.raises(WeightsError) as info:
            create_detector(device="cpu")
        message = str(info.value)
        assert "bundled detector weights are missing" in message
        assert "save_detector" in message and "facetrust train configs/default_detector.yaml" in message
        assert str(bundled_dir) in message


def test_alias_target_missing_from_a_populated_dir(weights_dir: Path) -> None:
    with pytest.raises(WeightsError, match="not in"):
        create_detector("default", weights_dir=weights_dir, device="cpu")


def test_spec_path_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="not found"):
        create_detector(str(tmp_path / "ghost.json"), device="cpu")


def test_unavailable_device_fails_before_loading(weights_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        create_detector("tiny", weights_dir=weights_dir, device="cuda")


def test_list_detectors(weights_dir: Path, alias_to_tiny: None, bundled_dir: Path) -> None:
    assert list_detectors() == []  # bundled dir absent
    bundled_dir.mkdir()
    assert list_detectors() == []  # bundled dir empty
    (weights_dir / "broken.json").write_text("{oops")  # skipped with a warning, not fatal
    infos = list_detectors(weights_dir=weights_dir)
    assert [i.name for i in infos] == ["tiny", "default"]
    tiny, alias = infos
    assert isinstance(tiny, DetectorInfo)
    assert (tiny.architecture, tiny.input_size, tiny.bundled) == ("efficientnet_lite0", 64, False)
    assert tiny.description == "tiny random test detector"
    assert tiny.sha256 is not None and len(tiny.sha256) == 64
    assert alias.description == "alias of 'tiny'" and alias.sha256 == tiny.sha256


def test_list_detectors_marks_bundled_ones(weights_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog, "BUNDLED_WEIGHTS_DIR", weights_dir)
    assert [i.bundled for i in list_detectors()] == [True]
    detector = create_detector("tiny", device="cpu")
    assert isinstance(detector, Detector)
