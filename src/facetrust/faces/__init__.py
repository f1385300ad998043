"""The faces stage: find faces in frames, cut them out, and follow each person across frames.

Typical use::

    detector = create_face_detector("mtcnn")
    faces = detector.detect([image])[0]  # list[FaceBox], best first
    crop = crop_face(image, faces[0], CropSpec())
    result = link_tracks([(0, 0.0, faces)])  # TrackingResult
"""

from facetrust.faces.base import FACE_DETECTORS, FaceDetector, create_face_detector, list_face_detectors
from facetrust.faces.crop import crop_face, crop_matrix, transform_points
from facetrust.faces.mtcnn import MtcnnDetector
from facetrust.faces.tracking import link_tracks
from facetrust.faces.yunet import YunetDetector, yunet_landmarks

__all__ = [
    "FACE_DETECTORS",
    "FaceDetector",
    "MtcnnDetector",
    "YunetDetector",
    "create_face_detector",
    "crop_face",
    "crop_matrix",
    "link_tracks",
    "list_face_detectors",
    "transform_points",
    "yunet_landmarks",
]
