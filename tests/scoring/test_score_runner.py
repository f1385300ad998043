"""ScoreRunner: preprocessing, batching, fake-logit extraction, temperature, devices."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from facetrust.errors import ConfigError, InputError, WeightsError
from facetrust.models import build_model
from facetrust.scoring import ScoreRunner, logits_to_probabilities, resize_crop
from facetrust.types import DetectorSpec

CPU = torch.device("cpu")
SIZE = 32


class MeanColour(nn.Module):
    """logits = Linear(mean RGB of the input); records where its inputs were and whether it was training."""

    def __init__(self, num_outputs: int = 1, weight: float = 4.0) -> None:
        super().__init__()
        self.linear = nn.Linear(3, num_outputs)
        with torch.no_grad():
            self.linear.weight.fill_(weight)
            self.linear.weight[1:] *= -1  # output 1 (if any) goes the other way
            self.linear.bias.zero_()
        self.seen: list[tuple[torch.device, torch.dtype, tuple[int, ...], bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((x.device, x.dtype, tuple(x.shape), self.training))
        return self.linear(x.mean(dim=(2, 3)))


def _spec(**kwargs: object) -> DetectorSpec:
    base: dict[str, object] = {
        "name": "probe",
        "architecture": "efficientnet_lite0",
        "input_size": SIZE,
        "mean": (0.5, 0.5, 0.5),
        "std": (0.5, 0.5, 0.5),
    }
    return DetectorSpec(**{**base, **kwargs})  # type: ignore[arg-type]


def _grey(value: int, h: int = SIZE, w: int = SIZE) -> np.ndarray:
    return np.full((h, w, 3), value, dtype=np.uint8)


@pytest.fixture(scope="module")
def crops() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    sizes = [(32, 32), (20, 50), (90, 70), (33, 31), (200, 200), (8, 8), (64, 64)]
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in sizes]


# ------------------------------------------------------------------------------------------ preprocessing


def test_preprocess_scales_and_normalises_per_channel() -> None:
    spec = _spec(mean=(0.1, 0.2, 0.3), std=(0.5, 0.25, 2.0))
    crop = np.zeros((SIZE, SIZE, 3), dtype=np.uint8)
    crop[..., 0], crop[..., 1], crop[..., 2] = 255, 51, 0
    x = ScoreRunner(MeanColour(), spec, CPU).preprocess(np.stack([crop, crop]))
    assert x.shape == (2, 3, SIZE, SIZE) and x.dtype == torch.float32 and x.device == CPU
    expected = [(1.0 - 0.1) / 0.5, (0.2 - 0.2) / 0.25, (0.0 - 0.3) / 2.0]
    for channel, value in enumerate(expected):
        torch.testing.assert_close(x[:, channel], torch.full((2, SIZE, SIZE), value))


def test_resize_uses_area_when_shrinking_and_linear_when_enlarging() -> None:
    checker = ((np.indices((96, 96)).sum(axis=0) % 2) * 255).astype(np.uint8)
    small = resize_crop(np.repeat(checker[..., None], 3, axis=2), SIZE)  # 3x shrink
    assert small.shape == (SIZE, SIZE, 3)
    assert 100 < small.min() and small.max() < 160  # 3x3 block averages; LINEAR would keep 0 and 255
    np.testing.assert_array_equal(
        small,
        cv2.resize(np.repeat(checker[..., None], 3, axis=2), (SIZE, SIZE), interpolation=cv2.INTER_AREA),
    )
    tiny = np.array([[0, 255], [255, 0]], dtype=np.uint8)
    big = resize_crop(np.repeat(tiny[..., None], 3, axis=2), SIZE)
    assert len(np.unique(big)) > 10  # a smooth ramp, not blocky nearest-like output
    same = _grey(9)
    assert resize_crop(same, SIZE) is same


# -------------------------------------------------------------------------------------------- batching


def test_batch_size_does_not_change_results(crops: list[np.ndarray]) -> None:
    runner = ScoreRunner(MeanColour(), _spec(), CPU)
    reference = runner.logits(crops, batch_size=len(crops))
    for batch_size in (1, 2, 3, 100):  # equal up to float summation order
        np.testing.assert_allclose(
            runner.logits(crops, batch_size=batch_size), reference, rtol=1e-5, atol=1e-7
        )
    individually = np.concatenate([runner.logits([c]) for c in crops])
    np.testing.assert_allclose(individually, reference, rtol=1e-5, atol=1e-7)


def test_batches_are_split_as_asked(crops: list[np.ndarray]) -> None:
    model = MeanColour()
    ScoreRunner(model, _spec(), CPU).logits(crops, batch_size=3)
    assert [shape[0] for _, _, shape, _ in model.seen] == [3, 3, 1]
    assert all(shape[1:] == (3, SIZE, SIZE) for _, _, shape, _ in model.seen)


def test_real_network_batches_agree() -> None:
    torch.manual_seed(0)
    runner = ScoreRunner(build_model("efficientnet_lite0"), _spec(input_size=64), CPU)
    rng = np.random.default_rng(3)
    batch = rng.integers(0, 256, (5, 72, 72, 3), dtype=np.uint8)
    whole = runner.logits(batch, batch_size=5)
    np.testing.assert_allclose(runner.logits(batch, batch_size=2), whole, rtol=1e-4, atol=1e-5)
    assert np.isfinite(whole).all()


@pytest.mark.parametrize("empty", [[], np.zeros((0, SIZE, SIZE, 3), dtype=np.uint8)])
def test_empty_input_gives_empty_output(empty: object) -> None:
    model = MeanColour()
    runner = ScoreRunner(model, _spec(), CPU)
    for result in (runner.logits(empty), runner.probabilities(empty)):  # type: ignore[arg-type]
        assert result.shape == (0,) and result.dtype == np.float32
    assert runner.preprocess(empty).shape == (0, 3, SIZE, SIZE)  # type: ignore[arg-type]
    assert model.seen == []  # the model is not even called


def test_crops_of_different_sizes_are_accepted(crops: list[np.ndarray]) -> None:
    out = ScoreRunner(MeanColour(), _spec(), CPU).probabilities(crops)
    assert out.shape == (len(crops),)


# ------------------------------------------------------------------------------------ model and device


def test_model_is_run_in_eval_mode_on_the_chosen_device(crops: list[np.ndarray]) -> None:
    model = MeanColour().train()
    runner = ScoreRunner(model, _spec(), CPU)
    assert not model.training
    model.train()  # someone flips it back between calls
    runner.logits(crops)
    assert not model.training
    assert all(
        device == CPU and dtype == torch.float32 and not training for device, dtype, _, training in model.seen
    )
    assert not runner.amp  # autocast is for CUDA only


def test_no_autograd_graph_is_built(crops: list[np.ndarray]) -> None:
    model = MeanColour()
    captured: list[torch.Tensor] = []
    model.register_forward_hook(lambda module, args, out: captured.append(out))
    ScoreRunner(model, _spec(), CPU).logits(crops)
    assert captured and not any(t.requires_grad for t in captured)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_inputs_land_on_the_gpu_with_autocast(crops: list[np.ndarray]) -> None:
    model = MeanColour()
    runner = ScoreRunner(model, _spec(), torch.device("cuda"))
    cpu_logits = ScoreRunner(MeanColour(), _spec(), CPU).logits(crops)
    gpu_logits = runner.logits(crops)
    assert runner.amp and all(device.type == "cuda" for device, _, _, _ in model.seen)
    np.testing.assert_allclose(gpu_logits, cpu_logits, atol=5e-2)


# -------------------------------------------------------------------------------- logits → probability


def test_probabilities_are_in_range_and_monotone_in_the_logit() -> None:
    greys = [_grey(v) for v in range(0, 256, 15)]
    runner = ScoreRunner(MeanColour(weight=40.0), _spec(), CPU)  # saturates at both ends
    logits, probs = runner.logits(greys), runner.probabilities(greys)
    assert np.all(np.diff(logits) > 0)  # brighter → more "fake" for this toy model
    assert np.all(np.diff(probs) >= 0)
    assert probs.min() >= 0.0 and probs.max() <= 1.0 and np.isfinite(probs).all()
    assert probs[0] < 1e-10 and probs[-1] == pytest.approx(1.0)


def test_temperature_is_applied(crops: list[np.ndarray]) -> None:
    plain = ScoreRunner(MeanColour(), _spec(), CPU)
    tempered = ScoreRunner(MeanColour(), _spec(temperature=3.0), CPU)
    logits = plain.logits(crops)
    np.testing.assert_array_equal(tempered.logits(crops), logits)  # logits are before temperature
    expected = 1.0 / (1.0 + np.exp(-logits.astype(np.float64) / 3.0))
    np.testing.assert_allclose(tempered.probabilities(crops), expected, rtol=1e-6)
    assert np.all(np.abs(tempered.probabilities(crops) - 0.5) <= np.abs(plain.probabilities(crops) - 0.5))


def test_logits_to_probabilities_is_stable_at_extremes() -> None:
    probs = logits_to_probabilities(np.array([-1e4, -30.0, 0.0, 30.0, 1e4], dtype=np.float32))
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs, [0.0, 9.357623e-14, 0.5, 1.0, 1.0], rtol=1e-6)


@pytest.mark.parametrize("fake_index", [0, 1])
def test_two_output_models_give_the_logit_of_the_softmax_fake_probability(
    crops: list[np.ndarray], fake_index: int
) -> None:
    model = MeanColour(num_outputs=2, weight=1.5)
    with torch.no_grad():
        model.linear.bias.copy_(torch.tensor([0.3, -0.2]))
    runner = ScoreRunner(model, _spec(num_outputs=2, fake_index=fake_index), CPU)
    logits = runner.logits(crops)
    with torch.no_grad():
        x = runner.preprocess(crops)
        p_fake = model(x).softmax(dim=1)[:, fake_index].double().numpy()
    np.testing.assert_allclose(logits, np.log(p_fake / (1 - p_fake)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(runner.probabilities(crops), p_fake, rtol=1e-5)


def test_output_width_must_match_the_spec(crops: list[np.ndarray]) -> None:
    runner = ScoreRunner(MeanColour(num_outputs=2), _spec(num_outputs=1), CPU)
    with pytest.raises(WeightsError, match=r"expected \(N, 1\)"):
        runner.logits(crops)


# ---------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((SIZE, SIZE, 3), dtype=np.uint8), r"crops\[None\]"),
        ([np.zeros((SIZE, SIZE, 3), dtype=np.float32)], "uint8"),
        ([_grey(1), np.zeros((SIZE, SIZE), dtype=np.uint8)], "crop 1 has shape"),
        ([np.zeros((SIZE, SIZE, 4), dtype=np.uint8)], r"\(H, W, 3\)"),
        ([np.zeros((0, SIZE, 3), dtype=np.uint8)], "crop 0 has shape"),
        (["not an image"], "numpy array"),
    ],
)
def test_bad_crops_are_input_errors(bad: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        ScoreRunner(MeanColour(), _spec(), CPU).logits(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_bad_batch_size(batch_size: object) -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        ScoreRunner(MeanColour(), _spec(), CPU).logits([_grey(1)], batch_size=batch_size)  # type: ignore[arg-type]


def test_inconsistent_spec_is_refused() -> None:
    with pytest.raises(ConfigError):
        ScoreRunner(MeanColour(), _spec(num_outputs=3), CPU)
    with pytest.raises(ConfigError):
        ScoreRunner(MeanColour(), _spec(temperature=0.0), CPU)
