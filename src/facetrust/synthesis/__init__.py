"""Synthetic fakes for training: self-blended images (SBI), up-sampling auto-encoder traces, animated stills (a
proxy for one-shot talking heads), and the degradations applied to both classes."""

from facetrust.synthesis.animate import AnimateConfig, animate_still, warp_to_landmarks
from facetrust.synthesis.degrade import DegradeConfig, degrade, h264_roundtrip, jpeg_roundtrip
from facetrust.synthesis.sbi import SbiConfig, face_hull_mask, render_low_resolution, self_blend
from facetrust.synthesis.upsampler import DecoderRenderer, UpsamplingAutoEncoder, reconstruct, train_upsampler

__all__ = [
    "AnimateConfig",
    "DecoderRenderer",
    "DegradeConfig",
    "SbiConfig",
    "degrade",
    "face_hull_mask",
    "h264_roundtrip",
    "jpeg_roundtrip",
    "UpsamplingAutoEncoder",
    "animate_still",
    "reconstruct",
    "render_low_resolution",
    "self_blend",
    "train_upsampler",
    "warp_to_landmarks",
]
