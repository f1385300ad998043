"""Stage 2, frames: choose which timestamps of a video to analyse.

>>> from facetrust.frames import sample_times
>>> sample_times(info, mode="uniform", n=8)                    # doctest: +SKIP
[0.3125, 0.9375, ...]
"""

from __future__ import annotations

from facetrust.frames.samplers import DEFAULT_MAX_FRAMES, MAX_UNIFORM_FRAMES, SAMPLERS, Sampler, sample_times

__all__ = ["DEFAULT_MAX_FRAMES", "MAX_UNIFORM_FRAMES", "SAMPLERS", "Sampler", "sample_times"]
