"""Fixtures of the explanation tests: the demo photos (real astronaut and a self-blended fake, made here),
a tiny random clip detector with attention pooling, and the default detector's blend member on PyTorch."""

from __future__ import annotations

from pathlib import Path

import pytest

from facetrust.media.testing import write_image
from facetrust.types import CropSpec, DetectorSpec


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from facetrust.demo import astronaut, self_blended_astronaut

    root = tmp_path_factory.mktemp("explain_photos")
    return {"real": write_image(root / "real.jpg", astronaut()),
            "fake": write_image(root / "fake <b>.jpg", self_blended_astronaut())}


@pytest.fixture(scope="session")
def tiny_clip_detector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised CNN-LSTM with attention pooling at 64 px, 4-frame clips; its scores mean nothing."""
    import torch

    from facetrust.models import build_model, save_detector

    torch.manual_seed(0)
    model = build_model("cnn_lstm_attention", num_outputs=1)
    spec = DetectorSpec(name="tiny_clip", architecture="cnn_lstm_attention", input_size=64, clip_length=4,
                        crop=CropSpec(size=64, margin=1.3), threshold=0.5, uncertain_band=(0.5, 0.5))
    directory = tmp_path_factory.mktemp("clip_weights")
    save_detector(model, spec, directory)
    return directory / "tiny_clip.json"


@pytest.fixture(scope="session")
def blend_member():
    """The default ensemble's blend member (sbi_families_lite0) on PyTorch, as an ExplainTarget."""
    from facetrust.explain.target import ExplainTarget
    from facetrust.pipeline import get_detector

    ensemble = get_detector("default", None, "torch")
    member = next(m for m in ensemble.members if m.spec.name == "sbi_families_lite0")
    return member, ExplainTarget(member)


@pytest.fixture(scope="session")
def astronaut_face():
    """The astronaut photo and its face (box and landmarks) as MTCNN finds it."""
    from facetrust.demo import astronaut
    from facetrust.faces import create_face_detector

    image = astronaut()
    return image, create_face_detector("mtcnn").detect([image])[0][0]

