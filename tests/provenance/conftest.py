"""Provenance fixtures made at test time: a throwaway CA signs a face photo, a PNG and a short MP4 with C2PA
manifests; XMP declarations, stripped copies, changed pixels and damaged manifests are derived from them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import astronaut, face_frames
from facetrust.media.testing import write_image, write_video
from facetrust.provenance.testing import (
    IPTC,
    TestSigner,
    actions_manifest,
    change_payload,
    make_test_signer,
    sign_file,
    strip_metadata,
    write_with_xmp,
    xmp_packet,
)

AI_CREATED = {"action": "c2pa.created", "digitalSourceType": IPTC + "trainedAlgorithmicMedia",
              "softwareAgent": {"name": "ImageGen", "version": "3"}}
CAPTURED = {"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture",
            "softwareAgent": {"name": "CameraFirmware"}}
# what each fixture must read as, without trust anchors
EXPECTED = {
    "plain.jpg": "none",
    "ai.jpg": "verified_ai_generated",
    "ai.png": "verified_ai_generated",
    "ai.mp4": "verified_ai_generated",
    "capture.jpg": "verified_capture",
    "edited.jpg": "verified_edited",
    "edited_from_ai.jpg": "verified_ai_generated",
    "pixels_changed.jpg": "invalid_or_tampered",
    "frames_changed.mp4": "invalid_or_tampered",
    "corrupt_manifest.jpg": "invalid_or_tampered",
    "xmp_ai.jpg": "declared_ai_generated",
    "xmp_ai.png": "declared_ai_generated",
    "stripped.jpg": "none",
}


@dataclass(frozen=True)
class Fixtures:
    root: Path
    signer: TestSigner
    anchors: Path  # the signer's CA, as a PEM trust-anchor file
    other_anchors: Path  # an unrelated CA

    def __truediv__(self, name: str) -> Path:
        return self.root / name


def corrupt_manifest(source: Path, target: Path) -> Path:
    """Overwrite bytes inside the claim of the embedded manifest (the JUMBF box stays in place)."""
    data = bytearray(source.read_bytes())
    claim = data.find(b"c2pa.claim")
    assert claim > 0, "the fixture has no claim box"
    data[claim + 40 : claim + 80] = b"\xaa" * 40
    target.write_bytes(bytes(data))
    return target


@pytest.fixture(scope="session")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> Fixtures:
    root = tmp_path_factory.mktemp("provenance")
    signer = make_test_signer()
    (root / "anchors.pem").write_bytes(signer.root_pem)
    (root / "other.pem").write_bytes(make_test_signer("Someone Else", "Other Org").root_pem)
    face = cv2.resize(astronaut()[0:300, 100:360], (208, 240), interpolation=cv2.INTER_AREA)
    write_image(root / "plain.jpg", face)
    write_image(root / "plain.png", face)
    write_video(root / "plain.mp4", face_frames(4))
    sign_file(root / "plain.jpg", root / "ai.jpg", actions_manifest(AI_CREATED), signer)
    sign_file(root / "plain.png", root / "ai.png", actions_manifest(AI_CREATED), signer)
    sign_file(root / "plain.mp4", root / "ai.mp4", actions_manifest(AI_CREATED), signer)
    sign_file(root / "plain.jpg", root / "capture.jpg", actions_manifest(CAPTURED), signer)
    edit = actions_manifest({"action": "c2pa.color_adjustments", "softwareAgent": {"name": "PhotoEditor"}})
    sign_file(root / "plain.jpg", root / "edited.jpg", edit, signer, parent=root / "capture.jpg")
    sign_file(root / "plain.jpg", root / "edited_from_ai.jpg", edit, signer, parent=root / "ai.jpg")
    change_payload(root / "ai.jpg", root / "pixels_changed.jpg")
    change_payload(root / "ai.mp4", root / "frames_changed.mp4")
    corrupt_manifest(root / "ai.jpg", root / "corrupt_manifest.jpg")
    write_with_xmp(root / "plain.jpg", root / "xmp_ai.jpg", xmp_packet("trainedAlgorithmicMedia", "Midjourney v6"))
    write_with_xmp(root / "plain.png", root / "xmp_ai.png", xmp_packet("compositeWithTrainedAlgorithmicMedia"))
    strip_metadata(root / "ai.jpg", root / "stripped.jpg")
    write_image(root / "grey.jpg", np.full((96, 96, 3), 128, np.uint8))
    sign_file(root / "grey.jpg", root / "ai_no_face.jpg", actions_manifest(AI_CREATED), signer)
    return Fixtures(root, signer, root / "anchors.pem", root / "other.pem")
