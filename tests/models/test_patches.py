"""Patch models: the Lite0 patch classifier scores local texture cell by cell, and takes whole-network weights."""

from __future__ import annotations

import torch

from facetrust.models import build_model
from facetrust.models.zoo.patches import PatchClassifier

ARCH = "efficientnet_lite0_patches"


def test_the_logit_is_the_mean_of_patch_logits_that_see_only_their_neighbourhood() -> None:
    torch.manual_seed(0)
    model = build_model(ARCH, imagenet=True).eval()
    assert isinstance(model, PatchClassifier)
    x = torch.randn(1, 3, 224, 224)
    changed = x.clone()
    changed[:, :, :32, :32] += 2.0  # a corner of the crop
    with torch.no_grad():
        before, after = model.logit_map(x), model.logit_map(changed)
        assert before.shape == (1, 1, 14, 14)
        assert torch.allclose(model(x), before.mean(dim=(2, 3)))
    moved = (after - before).abs()[0, 0]
    assert moved[:2, :2].sum() > 0  # the cells over the corner see it
    assert moved[8:, 8:].sum() == 0  # the far half of the face does not: texture, not layout


def test_whole_network_weights_land_in_the_truncated_trunk() -> None:
    whole = build_model("efficientnet_lite0", imagenet=True)
    patches = build_model(ARCH, imagenet=True)
    trunk = patches.backbone.state_dict()
    reference = whole.state_dict()
    assert trunk and all(torch.equal(value, reference[key]) for key, value in trunk.items())
    assert not any(key.startswith(("conv_head", "blocks.4", "classifier")) for key in trunk)
    fresh = build_model(ARCH)
    fresh.backbone.load_state_dict(whole.state_dict())  # a whole-face detector's weights: the later stages ignored
    assert all(torch.equal(v, reference[k]) for k, v in fresh.backbone.state_dict().items())
