"""Up-sampling auto-encoders: they learn to rebuild real faces and leave their own up-sampling traces."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facetrust.errors import ConfigError
from facetrust.synthesis.upsampler import (
    UPSAMPLING_KINDS,
    UpsamplingAutoEncoder,
    high_pass_energy,
    psnr,
    reconstruct,
    train_upsampler,
)
from tests_helpers import astronaut_variants


@pytest.mark.parametrize("kind", UPSAMPLING_KINDS)
def test_every_kind_keeps_the_shape(kind: str) -> None:
    model = UpsamplingAutoEncoder(kind, width=8).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 64, 48))
    assert out.shape == (2, 3, 64, 48) and float(out.min()) >= 0 and float(out.max()) <= 1


def test_training_makes_reconstructions_closer_to_the_originals() -> None:
    images = astronaut_variants(4)
    untrained = UpsamplingAutoEncoder("nearest").eval()
    model, stats = train_upsampler(images, "nearest", steps=60, patch=64, batch_size=4, seed=0)
    rebuilt = reconstruct(model, images)
    before = np.mean([psnr(a, b) for a, b in zip(images, reconstruct(untrained, images), strict=True)])
    after = np.mean([psnr(a, b) for a, b in zip(images, rebuilt, strict=True)])
    assert rebuilt[0].shape == images[0].shape and rebuilt[0].dtype == np.uint8
    assert after > before + 3, (before, after)
    assert stats["steps"] == 60 and stats["l1"] > 0
    assert not np.array_equal(rebuilt[0], images[0])  # a reconstruction, never a copy


def test_high_pass_energy_measures_fine_detail() -> None:
    flat = torch.full((1, 3, 32, 32), 0.5)
    noisy = (flat + 0.1 * torch.randn(1, 3, 32, 32)).clamp(0, 1)
    assert float(high_pass_energy(flat)) < 1e-6 < float(high_pass_energy(noisy))
    assert high_pass_energy(torch.cat([flat, noisy])).shape == (2,)


def test_detail_gain_makes_the_decoder_invent_detail_its_bottleneck_cannot_carry() -> None:
    import copy

    images = astronaut_variants(4)
    common = {"patch": 64, "batch_size": 4, "seed": 0}
    plain, _ = train_upsampler(images, "bilinear", steps=120, **common)
    detailed, stats = train_upsampler(images, "bilinear", steps=60, lr=5e-4, detail_gain=1.5, detail_weight=0.2,
                                      model=copy.deepcopy(plain), **common)

    def detail(batch: list[np.ndarray]) -> float:
        return float(high_pass_energy(torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).float() / 255).mean())

    plain_out, detailed_out = reconstruct(plain, images), reconstruct(detailed, images)
    assert detail(plain_out) < detail(images)  # an L1 auto-encoder renders smoother than its input
    assert detail(detailed_out) > 1.5 * detail(plain_out), (detail(images), detail(plain_out), detail(detailed_out))
    assert stats["detail_ratio"] > detail(plain_out) / detail(images)  # reported: output over input detail
    assert np.mean([psnr(a, b) for a, b in zip(images, detailed_out, strict=True)]) > 15  # still the same picture


def test_training_continues_a_given_auto_encoder() -> None:
    images = astronaut_variants(2)
    model, _ = train_upsampler(images, "nearest", steps=5, patch=64, batch_size=2, seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    again, _ = train_upsampler(images, "nearest", steps=5, patch=64, batch_size=2, seed=1, model=model)
    assert again is model and model.training is False
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_bad_requests_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown up-sampling kind 'cubic'"):
        UpsamplingAutoEncoder("cubic")
    with pytest.raises(ConfigError, match="divisible by 8"):
        reconstruct(UpsamplingAutoEncoder("nearest", width=8), [np.zeros((60, 64, 3), np.uint8)])
    with pytest.raises(ConfigError, match="at least 128"):
        train_upsampler([np.zeros((100, 100, 3), np.uint8)], "nearest")
    with pytest.raises(ConfigError, match="needs real images"):
        train_upsampler([], "nearest")
    with pytest.raises(ConfigError, match="detail_gain must be positive"):
        train_upsampler([np.zeros((128, 128, 3), np.uint8)], "nearest", detail_gain=0)
    assert reconstruct(UpsamplingAutoEncoder("nearest", width=8), []) == []


def test_saved_auto_encoders_render_faces_in_any_process(tmp_path) -> None:
    import pickle

    from facetrust.synthesis.upsampler import DecoderRenderer, load_upsamplers, save_upsampler

    for kind in ("nearest", "pixel_shuffle"):
        torch.manual_seed(0)
        save_upsampler(UpsamplingAutoEncoder(kind, width=8).eval(), tmp_path / kind, {"steps": 1})
    models = load_upsamplers(tmp_path)
    assert [m.kind for m in models] == ["nearest", "pixel_shuffle"] and models[0].width == 8
    renderer = pickle.loads(pickle.dumps(DecoderRenderer(tmp_path)))  # as a DataLoader worker gets it
    image = astronaut_variants(1)[0][:61, :70]  # sides not divisible by 8: padded, then cut back
    out = renderer(np.ascontiguousarray(image), np.random.default_rng(0))
    assert out.shape == image.shape and out.dtype == np.uint8 and not np.array_equal(out, image)
    with pytest.raises(ConfigError, match="train_upsamplers"):
        load_upsamplers(tmp_path / "empty")


def test_the_fakes_script_makes_detail_and_faint_reconstructions_of_real_crops(tmp_path) -> None:
    import csv
    import json
    import subprocess
    import sys
    from pathlib import Path

    import cv2

    from tests_helpers import write_extraction

    script = Path(__file__).resolve().parents[2] / "scripts" / "make_upsampler_fakes.py"
    source = write_extraction(tmp_path / "source", side=128)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(script), str(source), *args], capture_output=True, text=True,
                              timeout=300, check=False)

    done = run(str(tmp_path / "detail"), "--steps", "3", "--detail-gain", "1.5", "--frames-per-video", "2",
               "--save-models", str(tmp_path / "models"))
    assert done.returncode == 0, done.stderr[-2000:]
    rows = list(csv.DictReader((tmp_path / "detail" / "index.csv").open()))
    assert len(rows) == 8  # 2 frames of each of the 4 real videos; fakes keep the item's group and split
    assert {r["label"] for r in rows} == {"fake"} and all(r["method"].startswith("decoder-detail-") for r in rows)
    assert all(r["item"].endswith("~aed") for r in rows) and {r["split"] for r in rows} == {"train", "val"}
    info = json.loads((tmp_path / "detail" / "extract.json").read_text())["upsampler_fakes"]
    assert info["detail_gain"] == 1.5 and all("detail_ratio" in s for s in info["models"].values())
    assert len(list((tmp_path / "models").glob("*.upsampler.safetensors"))) == len(UPSAMPLING_KINDS)

    faint = run(str(tmp_path / "faint"), "--init-from", str(tmp_path / "models"), "--steps", "0",
                "--mix", "0.5", "0.5", "--frames-per-video", "2", "--seed", "0", "--method-prefix", "faint")
    assert faint.returncode == 0, faint.stderr[-2000:]
    full = run(str(tmp_path / "full"), "--init-from", str(tmp_path / "models"), "--steps", "0",
               "--frames-per-video", "2", "--seed", "0")
    assert full.returncode == 0, full.stderr[-2000:]
    faint_rows = list(csv.DictReader((tmp_path / "faint" / "index.csv").open()))
    assert all(r["method"].startswith("faint-") for r in faint_rows)
    for row in faint_rows:  # half of the reconstruction's change from its original, up to JPEG rounding
        name = Path(row["crop"]).name
        original = cv2.imread(str(source / "crops" / row["item"].split("~")[0] / name)).astype(float)
        half = cv2.imread(str(tmp_path / "faint" / row["crop"])).astype(float)
        whole = cv2.imread(str(tmp_path / "full" / row["crop"])).astype(float)  # same items and kinds
        assert np.abs(half - original).mean() < 0.75 * np.abs(whole - original).mean()

    refused = run(str(tmp_path / "x"), "--steps", "0")
    assert refused.returncode == 2 and "--steps 0 needs --init-from" in refused.stderr
