"""Class activation maps: Grad-CAM, Grad-CAM++ (the ``grad-cam`` package) and plain feature maps.

All three read the layer the model zoo names (``architecture_info(...).gradcam_layer``); token layouts
(ViT, Swin) are laid back on their grid first. Clip models give one map per frame of the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from facetrust.errors import DependencyError
from facetrust.explain.base import EXPLAINERS, Attribution, Explainer, min_max

if TYPE_CHECKING:
    from facetrust.explain.target import ExplainTarget


def _cam_class(name: str) -> Any:
    try:
        import pytorch_grad_cam
    except ImportError as exc:  # pragma: no cover - the explain extra is missing
        raise DependencyError("Grad-CAM needs the grad-cam package: pip install 'facetrust[explain]'") from exc
    return getattr(pytorch_grad_cam, name)


class _CamExplainer(Explainer):
    cam_class: str

    def attribute(self, target: ExplainTarget, window: Sequence[np.ndarray], position: int) -> Attribution:
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        with target.gradients_to(cut_at_cam_layer=True):  # registered first: the CAM hooks see the cut
            cam = _cam_class(self.cam_class)(model=target.cam_model, target_layers=[target.cam_layer],
                                             reshape_transform=target.reshape)
            try:
                maps = cam(input_tensor=target.cam_inputs(window), targets=[ClassifierOutputTarget(0)])
            finally:
                cam.activations_and_grads.release()  # hooks never outlive an explanation
        return Attribution(np.clip(np.asarray(target.frame_of(maps, position), np.float32), 0.0, 1.0))


@EXPLAINERS.register("gradcam")
class GradCam(_CamExplainer):
    """Grad-CAM (Selvaraju et al., 2017): the layer's feature maps weighted by the mean gradient of the fake
    logit, ReLU, scaled to [0, 1] by the map's maximum."""

    name = "gradcam"
    cam_class = "GradCAM"


@EXPLAINERS.register("gradcam++")
class GradCamPlusPlus(_CamExplainer):
    """Grad-CAM++ (Chattopadhay et al., 2018): like Grad-CAM with pixel-wise weights from second-order terms,
    which separates several regions better."""

    name = "gradcam++"
    cam_class = "GradCAMPlusPlus"


@EXPLAINERS.register("feature_maps")
class FeatureMaps(Explainer):
    """The mean activation over the channels of the Grad-CAM layer, min–max scaled: where that layer
    responds, whatever the class (not specific to "fake"; compare it with Grad-CAM)."""

    name = "feature_maps"

    def attribute(self, target: ExplainTarget, window: Sequence[np.ndarray], position: int) -> Attribution:
        import torch
        import torch.nn.functional as F  # noqa: N812

        captured: list[torch.Tensor] = []
        handle = target.cam_layer.register_forward_hook(lambda _m, _i, output: captured.append(output))
        try:
            with torch.inference_mode():
                target.fake_logit(target.inputs(window))
        finally:
            handle.remove()
        maps = target.feature_maps(captured[0]).float().mean(dim=1, keepdim=True)  # (N, 1, h, w)
        upsampled = F.interpolate(maps, size=(target.size, target.size), mode="bilinear", align_corners=False)
        return Attribution(min_max(target.frame_of(upsampled[:, 0].cpu().numpy(), position)))


__all__ = ["FeatureMaps", "GradCam", "GradCamPlusPlus"]
