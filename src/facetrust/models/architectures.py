"""The architecture registry: named builders of classifier networks (randomly initialised).

Every builder has the signature ``builder(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module`` and
never downloads anything (timm ``pretrained=False``). ImageNet initialisation is a separate step
(:func:`facetrust.models.load_imagenet_weights`), and trained detectors are loaded from safetensors files
(:mod:`facetrust.models.weights`). The architectures and their metadata live in :mod:`facetrust.models.zoo`;
this module keeps the historical import path.
"""

from facetrust.models.zoo import (
    ARCHITECTURES,
    NATIVE_INPUT_SIZES,
    ArchitectureInfo,
    ModelBuilder,
    architecture_info,
    list_architectures,
    register_architecture,
)

__all__ = [
    "ARCHITECTURES",
    "NATIVE_INPUT_SIZES",
    "ArchitectureInfo",
    "ModelBuilder",
    "architecture_info",
    "list_architectures",
    "register_architecture",
]
