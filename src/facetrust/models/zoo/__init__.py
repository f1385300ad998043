"""The model zoo: every registered architecture with its metadata.

Importing this package registers them all: timm CNNs (:mod:`.cnn`), timm vision transformers
(:mod:`.transformers`), the small CNNs written here (:mod:`.compact`), the clip models (:mod:`.temporal`),
the region models, which read one part of the face crop (:mod:`.regions`), and the patch models, which judge
local texture only (:mod:`.patches`). Builders never download anything (timm ``pretrained=False``)::

    from facetrust.models.zoo import ARCHITECTURES, architecture_info, list_architectures
    model = ARCHITECTURES.get("xception")(num_outputs=1, drop_rate=0.2)
    layer = architecture_info("xception").gradcam_layer(model)
    scratch = [a.name for a in list_architectures() if not a.imagenet_init]
"""

from facetrust.models.zoo import cnn, compact, patches, regions, temporal, transformers  # noqa: F401  (registers the models)
from facetrust.models.zoo.base import (
    ARCHITECTURES,
    NATIVE_INPUT_SIZES,
    ArchitectureInfo,
    CamLayout,
    InputKind,
    ModelBuilder,
    architecture_info,
    check_head_args,
    list_architectures,
    register_architecture,
)
from facetrust.models.zoo.layers import DEFAULT_ENCODER, AttentionPool, FrameEncoder

__all__ = [
    "ARCHITECTURES",
    "DEFAULT_ENCODER",
    "NATIVE_INPUT_SIZES",
    "ArchitectureInfo",
    "AttentionPool",
    "CamLayout",
    "FrameEncoder",
    "InputKind",
    "ModelBuilder",
    "architecture_info",
    "check_head_args",
    "list_architectures",
    "register_architecture",
]
