"""Generator traces without a generator: real faces passed through small auto-encoders trained on real faces.

Every image generator ends in up-sampling layers, and those leave periodic, frequency-domain fingerprints
(checkerboards of transposed convolutions, the blockiness of nearest up-sampling, the phase pattern of pixel
shuffle). A detector trained on the reconstructions of a few auto-encoders, each with another up-sampling
kind, learns those fingerprints rather than the look of one generator (the idea of AutoGAN, Zhang et al.
2019). Reconstructions keep the pose, identity, lighting and codec history of the real frame they come
from, so a detector cannot tell them apart by content or by domain (photo against video).

:func:`train_upsampler` fits one auto-encoder on real crops (a few CPU minutes); :func:`reconstruct` runs it
on whole crops (fully convolutional, any size divisible by 8).

With ``detail_gain``, the auto-encoder is also asked for ``detail_gain`` times the fine detail of its input
(the energy of its high-pass band), which its bottleneck cannot carry: the decoder has to *invent* the detail,
as generative decoders (GAN and diffusion-VAE decoders, face restorers) do. An L1-only auto-encoder renders
faces smoother than the camera; these render them at least as detailed, with detail that is not the camera's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from facetrust.errors import ConfigError

logger = logging.getLogger(__name__)

UPSAMPLING_KINDS = ("transposed", "nearest", "bilinear", "pixel_shuffle")


def _up(kind: str, channels_in: int, channels_out: int) -> nn.Module:
    """One ×2 up-sampling stage of ``kind``."""
    if kind == "transposed":
        return nn.ConvTranspose2d(channels_in, channels_out, kernel_size=4, stride=2, padding=1)
    if kind in ("nearest", "bilinear"):
        return nn.Sequential(nn.Upsample(scale_factor=2, mode=kind),
                             nn.Conv2d(channels_in, channels_out, kernel_size=3, padding=1))
    if kind == "pixel_shuffle":
        return nn.Sequential(nn.Conv2d(channels_in, channels_out * 4, kernel_size=3, padding=1), nn.PixelShuffle(2))
    raise ConfigError(f"unknown up-sampling kind {kind!r}; choose one of {', '.join(UPSAMPLING_KINDS)}")


class UpsamplingAutoEncoder(nn.Module):
    """RGB in [0, 1] → ×1/2^depth bottleneck → ``depth`` ×2 up-sampling stages of one ``kind`` → RGB in [0, 1].
    Depth 3 (×1/8) is the whole-face member's; depth 2 keeps more detail, as a face-swap decoder does."""

    def __init__(self, kind: str = "transposed", width: int = 48, depth: int = 3) -> None:
        super().__init__()
        if depth not in (1, 2, 3):
            raise ConfigError(f"depth must be 1, 2 or 3, got {depth}")
        self.kind, self.width, self.depth = kind, width, depth
        act = nn.LeakyReLU(0.2)
        channels = [3, width, 2 * width, 2 * width][: depth + 1]
        encoder: list[nn.Module] = []
        for c_in, c_out in zip(channels, channels[1:], strict=False):
            encoder += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), act]
        decoder: list[nn.Module] = []
        for c_in, c_out in [(2 * width, 2 * width), (2 * width, width), (width, width)][3 - depth :]:
            decoder += [_up(kind, c_in, c_out), act]
        self.encoder = nn.Sequential(*encoder)
        self.decoder = nn.Sequential(*decoder, nn.Conv2d(width, 3, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(self.encoder(x)))


def _to_tensor(images: Sequence[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div(255.0)


def high_pass_energy(images: torch.Tensor) -> torch.Tensor:
    """Per image, the mean absolute high-pass band (the image minus its 5×5 Gaussian blur, σ = 1) of an
    ``N×C×H×W`` batch in [0, 1]: how much fine detail it holds."""
    taps = torch.exp(-0.5 * torch.arange(-2.0, 3.0) ** 2)
    kernel = (taps[:, None] * taps[None, :]) / taps.sum() ** 2
    channels = images.shape[1]
    weight = kernel.to(images)[None, None].repeat(channels, 1, 1, 1)
    blurred = nn.functional.conv2d(nn.functional.pad(images, (2, 2, 2, 2), mode="reflect"), weight, groups=channels)
    return (images - blurred).abs().mean(dim=(1, 2, 3))


def train_upsampler(
    images: Sequence[np.ndarray], kind: str, *, steps: int = 1500, patch: int = 128, batch_size: int = 16,
    lr: float = 2e-3, seed: int = 0, max_seconds: float | None = None, depth: int = 3,
    detail_gain: float | None = None, detail_weight: float = 0.05, model: UpsamplingAutoEncoder | None = None,
) -> tuple[UpsamplingAutoEncoder, dict[str, float]]:
    """Fit an auto-encoder with ``kind`` up-sampling on random ``patch`` cuts of real uint8 RGB ``images``
    (L1 loss). With ``detail_gain``, ``detail_weight`` times the relative error between the output's
    :func:`high_pass_energy` and ``detail_gain`` times the input's is added, so the decoder invents fine
    detail. ``model`` continues an auto-encoder (e.g. one loaded by :func:`load_upsamplers`) instead of
    starting a new one of ``kind`` and ``depth``. Returns the model (eval mode) and ``{"steps", "l1",
    "seconds"}`` of the last steps (plus ``"detail_ratio"``, output over input detail, with ``detail_gain``)."""
    if not images:
        raise ConfigError("train_upsampler needs real images")
    if detail_gain is not None and detail_gain <= 0:
        raise ConfigError(f"detail_gain must be positive, got {detail_gain}")
    if any(min(image.shape[:2]) < patch for image in images):
        raise ConfigError(f"every image must be at least {patch} px on each side")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    if model is None:
        model = UpsamplingAutoEncoder(kind, depth=depth)
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=steps)
    started, recent, ratios = time.perf_counter(), [], []
    step = 0
    for step in range(1, steps + 1):
        batch = []
        for k in rng.integers(0, len(images), batch_size):
            image = images[int(k)]
            y = int(rng.integers(0, image.shape[0] - patch + 1))
            x = int(rng.integers(0, image.shape[1] - patch + 1))
            cut = image[y : y + patch, x : x + patch]
            batch.append(cut[:, ::-1] if rng.random() < 0.5 else cut)
        target = _to_tensor([np.ascontiguousarray(b) for b in batch])
        output = model(target)
        l1_loss = (output - target).abs().mean()
        loss = l1_loss
        if detail_gain is not None:
            ratio = high_pass_energy(output) / high_pass_energy(target).clamp_min(1e-4)
            loss = loss + detail_weight * (ratio - detail_gain).abs().mean() / detail_gain
            ratios = (ratios + [float(ratio.detach().mean())])[-50:]
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        recent = (recent + [l1_loss.item()])[-50:]
        if step % 250 == 0:
            logger.info("%s auto-encoder: step %d, L1 %.4f", kind, step, np.mean(recent))
        if max_seconds is not None and time.perf_counter() - started > max_seconds:
            break
    model.eval()
    l1 = float(np.mean(recent))
    stats = {"steps": step, "l1": round(l1, 5), "seconds": round(time.perf_counter() - started, 1)}
    if detail_gain is not None:
        stats["detail_ratio"] = round(float(np.mean(ratios)), 3)
    return model, stats


@torch.no_grad()
def reconstruct(model: UpsamplingAutoEncoder, images: Sequence[np.ndarray], *, batch_size: int = 8) -> list[np.ndarray]:
    """uint8 RGB images (same size, sides divisible by 8) → their reconstructions, uint8 RGB."""
    if not images:
        return []
    height, width = images[0].shape[:2]
    if height % 8 or width % 8:
        raise ConfigError(f"image sides must be divisible by 8, got {width}x{height}")
    out: list[np.ndarray] = []
    for first in range(0, len(images), batch_size):
        rebuilt = model(_to_tensor(images[first : first + batch_size]))
        out += list(rebuilt.mul(255.0).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy())
    return out


UPSAMPLER_SUFFIX = ".upsampler.safetensors"


def save_upsampler(model: UpsamplingAutoEncoder, path: Path, stats: dict[str, float] | None = None) -> Path:
    """Write ``model`` as ``<path>.upsampler.safetensors`` (its kind and width in the metadata)."""
    from safetensors.torch import save_file

    target = Path(path)
    if not target.name.endswith(UPSAMPLER_SUFFIX):
        target = target.with_name(target.name + UPSAMPLER_SUFFIX)
    target.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"kind": model.kind, "width": str(model.width), "depth": str(model.depth), **{k: str(v) for k, v in (stats or {}).items()}}
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(target), metadata=metadata)
    return target


def load_upsamplers(folder: Path) -> list[UpsamplingAutoEncoder]:
    """Every auto-encoder saved by :func:`save_upsampler` in ``folder`` (eval mode, sorted by file name)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    files = sorted(Path(folder).glob(f"*{UPSAMPLER_SUFFIX}"))
    if not files:
        raise ConfigError(f"no auto-encoders (*{UPSAMPLER_SUFFIX}) in {folder}: make them with "
                          "`python scripts/train_upsamplers.py --store STORE --out FOLDER`")
    models = []
    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            meta = handle.metadata() or {}
        model = UpsamplingAutoEncoder(meta.get("kind", "transposed"), width=int(meta.get("width", 48)),
                                      depth=int(meta.get("depth", 3)))
        model.load_state_dict(load_file(str(file)))
        models.append(model.eval())
    return models


class DecoderRenderer:
    """A face rendered through a decoder: ``renderer(image, rng)`` rebuilds the uint8 RGB ``image`` with one of
    the auto-encoders of ``folder`` (chosen by ``rng``), as generators render every pixel of a face through
    up-sampling layers. Picklable: each process (e.g. a DataLoader worker) loads the models on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._models: list[UpsamplingAutoEncoder] | None = None

    def __getstate__(self) -> dict[str, object]:
        return {"folder": self.folder, "_models": None}

    @property
    def models(self) -> list[UpsamplingAutoEncoder]:
        if self._models is None:
            self._models = load_upsamplers(self.folder)
        return self._models

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        model = self.models[int(rng.integers(len(self.models)))]
        height, width = image.shape[:2]
        pad_y, pad_x = (-height) % 8, (-width) % 8
        padded = np.pad(image, ((0, pad_y), (0, pad_x), (0, 0)), mode="reflect") if pad_y or pad_x else image
        return reconstruct(model, [np.ascontiguousarray(padded)])[0][:height, :width]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 images, in dB."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


__all__ = [
    "UPSAMPLING_KINDS",
    "DecoderRenderer",
    "UpsamplingAutoEncoder",
    "high_pass_energy",
    "load_upsamplers",
    "psnr",
    "reconstruct",
    "save_upsampler",
    "train_upsampler",
]
