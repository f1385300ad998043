"""Generator traces without a generator: real faces passed through small auto-encoders trained on real faces.

Every image generator ends in up-sampling layers, and those leave periodic, frequency-domain fingerprints
(checkerboards of transposed convolutions, the blockiness of nearest up-sampling, the phase pattern of pixel
shuffle). A detector trained on the reconstructions of a few auto-encoders, each with another up-sampling
kind, learns those fingerprints rather than the look of one generator (the idea of AutoGAN, Zhang et al.
2019). Reconstructions keep the pose, identity, lighting and codec history of the real frame they come
from, so a detector cannot tell them apart by content or by domain (photo against video).

:func:`train_upsampler` fits one auto-encoder on real crops (a few CPU minutes); :func:`reconstruct` runs it
on whole crops (fully convolutional, any size divisible by 8).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

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
    """RGB in [0, 1] → ×1/8 bottleneck → three ×2 up-sampling stages of one ``kind`` → RGB in [0, 1]."""

    def __init__(self, kind: str = "transposed", width: int = 48) -> None:
        super().__init__()
        self.kind = kind
        act = nn.LeakyReLU(0.2)
        self.encoder = nn.Sequential(
            nn.Conv2d(3, width, 3, stride=2, padding=1), act,
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), act,
            nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1), act,
        )
        self.decoder = nn.Sequential(
            _up(kind, 2 * width, 2 * width), act,
            _up(kind, 2 * width, width), act,
            _up(kind, width, width), act,
            nn.Conv2d(width, 3, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(self.encoder(x)))


def _to_tensor(images: Sequence[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div(255.0)


def train_upsampler(
    images: Sequence[np.ndarray], kind: str, *, steps: int = 1500, patch: int = 128, batch_size: int = 16,
    lr: float = 2e-3, seed: int = 0, max_seconds: float | None = None,
) -> tuple[UpsamplingAutoEncoder, dict[str, float]]:
    """Fit an auto-encoder with ``kind`` up-sampling on random ``patch`` cuts of real uint8 RGB ``images``
    (L1 loss). Returns the model (eval mode) and ``{"steps", "l1", "psnr", "seconds"}`` of the last steps."""
    if not images:
        raise ConfigError("train_upsampler needs real images")
    if any(min(image.shape[:2]) < patch for image in images):
        raise ConfigError(f"every image must be at least {patch} px on each side")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = UpsamplingAutoEncoder(kind)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=steps)
    started, recent = time.perf_counter(), []
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
        loss = (model(target) - target).abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        recent = (recent + [loss.item()])[-50:]
        if step % 250 == 0:
            logger.info("%s auto-encoder: step %d, L1 %.4f", kind, step, np.mean(recent))
        if max_seconds is not None and time.perf_counter() - started > max_seconds:
            break
    model.eval()
    l1 = float(np.mean(recent))
    return model, {"steps": step, "l1": round(l1, 5), "seconds": round(time.perf_counter() - started, 1)}


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


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 images, in dB."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


__all__ = ["UPSAMPLING_KINDS", "UpsamplingAutoEncoder", "psnr", "reconstruct", "train_upsampler"]
