"""Training the default detector: face-crop preparation, self-blended training, calibration, model card.

Import the pieces from their modules (``facetrust.training.train``, ``.prepare``, ``.calibrate``); this
package only exposes the config so that importing it stays light."""

from facetrust.training.config import TrainConfig

__all__ = ["TrainConfig"]
