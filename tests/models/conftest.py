"""Fixtures for the models stage: a tiny randomly initialised lite0 detector saved with save_detector."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from facetrust.models import build_model, save_detector
from facetrust.types import CropSpec, DetectorSpec
from tests_helpers import randomise_batchnorm

TINY_SIZE = 64


def make_tiny_model(seed: int = 0) -> nn.Module:
    """lite0 with a 1-logit head and non-trivial BatchNorm statistics, so outputs vary between inputs."""
    torch.manual_seed(seed)
    model = build_model("efficientnet_lite0", num_outputs=1)
    randomise_batchnorm(model)
    with torch.no_grad():
        model.classifier.weight.mul_(20)  # spread the logits so probabilities are not all ~0.5
    return model.eval()


@pytest.fixture(scope="session")
def tiny_spec() -> DetectorSpec:
    return DetectorSpec(
        name="tiny",
        architecture="efficientnet_lite0",
        input_size=TINY_SIZE,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        crop=CropSpec(size=96, margin=1.25, align=True),
        threshold=0.6,
        uncertain_band=(0.4, 0.7),
        temperature=1.5,
        license="Apache-2.0",
        provenance={"description": "tiny random test detector", "seed": 0},
    )


@pytest.fixture(scope="session")
def tiny_model() -> nn.Module:
    return make_tiny_model()


@pytest.fixture(scope="session")
def _pristine_dir(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: nn.Module, tiny_spec: DetectorSpec
) -> Path:
    directory = tmp_path_factory.mktemp("pristine_weights")
    save_detector(tiny_model, tiny_spec, directory, half=False)
    return directory


@pytest.fixture
def weights_dir(tmp_path: Path, _pristine_dir: Path) -> Path:
    """A fresh copy of a weights directory holding tiny.json + tiny.safetensors (fp32), safe to corrupt."""
    target = tmp_path / "weights"
    shutil.copytree(_pristine_dir, target)
    return target


@pytest.fixture(scope="session")
def crops() -> list[np.ndarray]:
    """Five random RGB crops of different sizes (some smaller, some larger than 64 px)."""
    rng = np.random.default_rng(1)
    sizes = [(64, 64), (40, 52), (120, 90), (64, 80), (200, 200)]
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in sizes]
