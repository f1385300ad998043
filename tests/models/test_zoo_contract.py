"""The model-zoo contract, run on every architecture in list_architectures() (new ones are covered as they
register): tiny forward and backward, the Grad-CAM layer, a few Adam steps on a toy task, head checks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from facetrust.errors import ConfigError, InputError
from facetrust.models import ARCHITECTURES, ArchitectureInfo, list_architectures

INFOS = list_architectures()
IDS = [info.name for info in INFOS]
CLIP_LEN = 2

STEPS, LR = 8, 3e-4
TRAIN_OVERRIDES: dict[str, tuple[int, float]] = {"vgg16": (5, 1e-5)}
"""name → (Adam steps, learning rate) where the default is too slow or unstable. VGG-16: 134 M parameters,
103 M of them in the 7×7 FC6; Adam moves each by ~lr, so bigger steps overshoot."""

"""Per-architecture ceiling for the whole contract (CI has 2 cores); VGG-16, the slowest, takes ~10 s."""


def _shape(info: ArchitectureInfo, batch: int) -> tuple[int, ...]:
    s = info.min_input_size
    return (batch, 3, s, s) if info.input == "frame" else (batch, CLIP_LEN, 3, s, s)


def _input(info: ArchitectureInfo, batch: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(_shape(info, batch), generator=gen)


def toy_batch(info: ArchitectureInfo, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise images with a bright (label 1) or dark (label 0) square of half the image side, anywhere."""
    batch = 8 if info.input == "frame" else 4
    x = 0.1 * _input(info, batch, gen)
    labels = torch.arange(batch) % 2
    side = info.min_input_size // 2
    for i, label in enumerate(labels.tolist()):
        row, col = torch.randint(0, info.min_input_size - side + 1, (2,), generator=gen).tolist()
        x[i, ..., row : row + side, col : col + side] += 1.0 if label else -1.0
    return x, labels.float()[:, None]


def train_losses(info: ArchitectureInfo, seed: int = 0) -> list[float]:
    """Training losses of a few full-batch Adam steps on :func:`toy_batch` (dropout off)."""
    steps, lr = TRAIN_OVERRIDES.get(info.name, (STEPS, LR))
    torch.manual_seed(seed)
    model = ARCHITECTURES.get(info.name)(num_outputs=1, drop_rate=0.0).train()
    x, y = toy_batch(info, torch.Generator().manual_seed(seed))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def _is_inside(layer: nn.Module, model: nn.Module) -> bool:
    return any(module is layer for module in model.modules())


@pytest.mark.parametrize("info", INFOS, ids=IDS)
def test_forward_backward_and_gradcam_layer(info: ArchitectureInfo) -> None:
    torch.manual_seed(0)
    model = ARCHITECTURES.get(info.name)(num_outputs=1).train()
    layer = info.gradcam_layer(model)
    assert _is_inside(layer, model)
    seen: dict[str, torch.Tensor] = {}

    def keep(module: nn.Module, args: object, output: torch.Tensor) -> None:
        seen["activation"] = output
        output.register_hook(lambda grad: seen.__setitem__("gradient", grad))

    handle = layer.register_forward_hook(keep)
    x = _input(info, 2, torch.Generator().manual_seed(0))
    out = model(x)
    handle.remove()
    assert out.shape == (2, 1)
    assert torch.isfinite(out).all()
    out.sum().backward()

    params = dict(model.named_parameters())
    assert info.params == sum(p.numel() for p in params.values())  # the meta-device count is the real one
    missing = [name for name, p in params.items() if p.requires_grad and p.grad is None]
    assert not missing, f"parameters without a gradient: {missing[:5]}"
    grad_sizes = torch.stack([p.grad.abs().sum() for p in params.values() if p.grad is not None])
    assert torch.isfinite(grad_sizes).all() and grad_sizes.sum() > 0

    activation, gradient = seen["activation"], seen.get("gradient")
    assert gradient is not None and gradient.abs().sum() > 0, "the Grad-CAM layer gets no gradient"
    # one map per frame; a model of frame differences has one per difference (T - 1 per clip)
    frames = 2 if info.input == "frame" else 2 * (CLIP_LEN - 1 if getattr(model, "differences", False) else CLIP_LEN)
    assert activation.dim() == (3 if info.gradcam_layout == "NLC" else 4)
    assert activation.shape[0] == frames

    with torch.no_grad():  # drop_rate=0.2 is applied: in training mode each call draws a new mask
        assert not torch.equal(model(x), model(x))
    model.eval()  # dropout off, batch-norm running statistics: deterministic
    with torch.no_grad():
        first, second = model(x), model(x)
    assert torch.isfinite(first).all() and torch.equal(first, second)


@pytest.mark.parametrize("info", INFOS, ids=IDS)
def test_meta_build_has_the_requested_head_width(info: ArchitectureInfo) -> None:
    with torch.device("meta"):  # what save_detector builds; shapes only, so any width is cheap
        model = ARCHITECTURES.get(info.name)(num_outputs=3)
        out = model(torch.empty(_shape(info, 2)))
    assert out.shape == (2, 3)


@pytest.mark.parametrize("info", INFOS, ids=IDS)
def test_a_few_adam_steps_lower_the_loss_on_a_toy_task(info: ArchitectureInfo) -> None:
    losses = train_losses(info)
    assert all(torch.isfinite(torch.tensor(losses)))
    first, last = sum(losses[:2]) / 2, sum(losses[-2:]) / 2
    assert last < 0.9 * first, f"loss did not go down: {[round(v, 3) for v in losses]}"


BAD_HEADS = [
    {"num_outputs": 0},
    {"num_outputs": 1.5},
    {"num_outputs": True},
    {"drop_rate": 1.0},
    {"drop_rate": -0.1},
    {"drop_rate": "0.2"},
]


@pytest.mark.parametrize("info", INFOS, ids=IDS)
def test_bad_head_arguments_are_config_errors(info: ArchitectureInfo) -> None:
    builder = ARCHITECTURES.get(info.name)
    for kwargs in BAD_HEADS:
        with pytest.raises(ConfigError):
            builder(**kwargs)


@pytest.mark.parametrize("info", [i for i in INFOS if i.input == "clip"], ids=lambda i: i.name)
def test_clip_models_reject_frame_batches_and_take_single_frames(info: ArchitectureInfo) -> None:
    model = ARCHITECTURES.get(info.name)().eval()
    s = info.min_input_size
    with pytest.raises(InputError, match="B, T, 3, H, W"):
        model(torch.randn(2, 3, s, s))
    with torch.no_grad():
        assert model(torch.randn(2, 1, 3, s, s)).shape == (2, 1)


def test_lstm_attention_weights_are_a_distribution_over_frames() -> None:
    torch.manual_seed(0)
    model = ARCHITECTURES.get("cnn_lstm_attention")(num_outputs=2).eval()
    x = torch.randn(3, 5, 3, 32, 32)
    with torch.no_grad():
        logits, weights = model(x, return_attention=True)
        plain = model(x)
    assert logits.shape == (3, 2) and weights.shape == (3, 5)
    assert (weights >= 0).all()
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(3))
    torch.testing.assert_close(logits, plain)


def test_cross_attention_map_is_a_distribution_over_each_clip() -> None:
    torch.manual_seed(0)
    model = ARCHITECTURES.get("cross_attention")().eval()
    with torch.no_grad():
        logits, weights = model(torch.randn(2, 3, 3, 64, 64), return_attention=True)
    assert logits.shape == (2, 1)
    assert weights.shape[:2] == (2, 3) and weights.dim() == 4
    torch.testing.assert_close(weights.sum(dim=(1, 2, 3)), torch.ones(2))


def test_return_attention_without_attention_pooling_is_a_config_error() -> None:
    model = ARCHITECTURES.get("cnn_bilstm")()
    with pytest.raises(ConfigError, match="attention"):
        model(torch.randn(1, 2, 3, 32, 32), return_attention=True)


def test_unknown_frame_encoder_suggests_close_timm_names() -> None:
    with pytest.raises(ConfigError, match="resnet50"):
        ARCHITECTURES.get("cnn_bilstm")(encoder="resnet5O")


def test_clip_models_take_any_timm_encoder() -> None:
    model = ARCHITECTURES.get("cnn_transformer")(encoder="resnet18").eval()
    with torch.no_grad():
        assert model(torch.randn(1, 2, 3, 64, 64)).shape == (1, 1)
