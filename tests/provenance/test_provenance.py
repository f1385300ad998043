"""check_provenance on files signed, declared, stripped, changed and damaged at test time."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from facetrust.errors import ConfigError
from facetrust.provenance import (
    TRUST_ANCHORS_ENV,
    Provenance,
    ProvenanceStatus,
    check_provenance,
    load_trust_anchors,
    verdict_raise_reason,
)
from facetrust.provenance.testing import actions_manifest, make_test_signer, sign_file

from .conftest import AI_CREATED, EXPECTED, Fixtures


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_fixture_reads_as_expected(fixtures: Fixtures, name: str) -> None:
    provenance = check_provenance(fixtures / name)
    assert provenance.status == EXPECTED[name]
    assert provenance.checked and provenance.trust_anchors == "none"
    assert provenance.meaning and provenance.meaning.endswith(".")


def test_valid_ai_manifest_reports_its_fields(fixtures: Fixtures) -> None:
    p = check_provenance(fixtures / "ai.jpg")
    assert p.status is ProvenanceStatus.VERIFIED_AI_GENERATED and p.ai_declared
    assert p.manifest_present and p.validation_state == "Valid" and not p.trusted
    assert p.validation_failures == ("signingCredential.untrusted",)  # the only failure: no anchor in use
    assert p.signer == "Facetrust Test Signer" and p.issuer == "Facetrust Test Org"
    assert p.claim_generator == "facetrust-tests 1.0"
    assert [(a.action, a.digital_source_type, a.software_agent) for a in p.actions] == [
        ("c2pa.created", "trainedAlgorithmicMedia", "ImageGen 3")]
    assert "valid but untrusted" in p.meaning.lower() and "does not change the verdict" in p.meaning
    assert p.short() == "verified_ai_generated, signed by Facetrust Test Signer (untrusted)"
    assert verdict_raise_reason(p) is None  # untrusted: anyone can make such a certificate


def test_trust_anchor_makes_the_chain_trusted_and_only_then_raises(fixtures: Fixtures) -> None:
    trusted = check_provenance(fixtures / "ai.jpg", trust_anchors=fixtures.anchors)
    assert trusted.trusted and trusted.validation_state == "Trusted" and trusted.validation_failures == ()
    assert trusted.trust_anchors == f"{fixtures.anchors} (1 certificate)"
    assert "chains to a trust anchor in use" in trusted.meaning
    reason = verdict_raise_reason(trusted)
    assert reason is not None and "trainedAlgorithmicMedia" in reason and "Facetrust Test Signer" in reason
    other = check_provenance(fixtures / "ai.jpg", trust_anchors=fixtures.other_anchors)
    assert other.status is ProvenanceStatus.VERIFIED_AI_GENERATED and not other.trusted
    assert verdict_raise_reason(other) is None
    capture = check_provenance(fixtures / "capture.jpg", trust_anchors=fixtures.anchors)
    assert capture.status is ProvenanceStatus.VERIFIED_CAPTURE and capture.trusted
    assert verdict_raise_reason(capture) is None  # only an AI declaration ever changes the verdict


def test_trust_anchors_come_from_the_environment(fixtures: Fixtures, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TRUST_ANCHORS_ENV, str(fixtures.anchors))
    assert check_provenance(fixtures / "ai.png").trusted
    monkeypatch.setenv(TRUST_ANCHORS_ENV, str(fixtures / "missing.pem"))
    with pytest.raises(ConfigError, match="FACETRUST_TRUST_ANCHORS"):
        check_provenance(fixtures / "ai.png")


def test_unusable_trust_anchors_are_config_errors(fixtures: Fixtures, tmp_path: Path) -> None:
    (tmp_path / "notes.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match="no PEM certificate"):
        load_trust_anchors(tmp_path / "notes.pem")
    (tmp_path / "broken.pem").write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError, match="certificate 1 .* is damaged"):
        check_provenance(fixtures / "ai.jpg", trust_anchors=tmp_path / "broken.pem")
    with pytest.raises(ConfigError, match="cannot read"):
        load_trust_anchors(tmp_path / "absent.pem")


def test_capture_and_edit_manifests(fixtures: Fixtures) -> None:
    capture = check_provenance(fixtures / "capture.jpg")
    assert [a.digital_source_type for a in capture.actions] == ["digitalCapture"]
    assert "records a capture" in capture.meaning and "not that the scene" in capture.meaning
    edited = check_provenance(fixtures / "edited.jpg")
    assert [a.action for a in edited.actions] == ["c2pa.opened", "c2pa.color_adjustments"]
    (parent,) = edited.ingredients
    assert parent.title == "capture.jpg" and parent.relationship == "parentOf" and parent.has_manifest
    assert parent.digital_source_types == ("digitalCapture",)
    assert "declares no AI generation" in edited.meaning


def test_an_ai_ingredient_makes_an_edit_ai_generated(fixtures: Fixtures) -> None:
    p = check_provenance(fixtures / "edited_from_ai.jpg")
    assert p.status is ProvenanceStatus.VERIFIED_AI_GENERATED
    assert p.ingredients[0].digital_source_types == ("trainedAlgorithmicMedia",)
    assert "ingredient ai.jpg" in p.meaning


def test_pixels_changed_after_signing_are_tampered(fixtures: Fixtures) -> None:
    with Image.open(fixtures / "ai.jpg") as a, Image.open(fixtures / "pixels_changed.jpg") as b:
        assert not np.array_equal(np.asarray(a), np.asarray(b))  # the picture really differs
    p = check_provenance(fixtures / "pixels_changed.jpg")
    assert p.status is ProvenanceStatus.INVALID_OR_TAMPERED and p.validation_state == "Invalid"
    assert "assertion.dataHash.mismatch" in p.validation_failures
    assert "changed after signing" in p.meaning and not p.ai_declared
    video = check_provenance(fixtures / "frames_changed.mp4")
    assert video.status is ProvenanceStatus.INVALID_OR_TAMPERED
    assert any("bmffHash" in code for code in video.validation_failures)


def test_corrupt_manifest_is_a_clear_status(fixtures: Fixtures) -> None:
    p = check_provenance(fixtures / "corrupt_manifest.jpg")
    assert p.status is ProvenanceStatus.INVALID_OR_TAMPERED and p.manifest_present
    assert p.signer is None and p.actions == ()  # nothing of a broken manifest is reported as fact
    assert "cannot be read" in p.meaning


def test_random_damage_to_the_manifest_never_crashes(fixtures: Fixtures, tmp_path: Path) -> None:
    signed = (fixtures / "ai.jpg").read_bytes()
    start = signed.find(b"jumb") - 8
    end = signed.find(b"\xff\xdb")  # the manifest segments end before the quantisation tables
    rng = random.Random(17)
    seen = set()
    for k in range(30):
        data = bytearray(signed)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(start, end)] = rng.randrange(256)
        if k % 5 == 0:  # also cut the file inside the manifest
            data = data[: rng.randrange(start, end)]
        path = tmp_path / f"damaged_{k}.jpg"
        path.write_bytes(bytes(data))
        p = check_provenance(path)
        assert p.status in set(ProvenanceStatus) and p.meaning
        assert p.status is not ProvenanceStatus.VERIFIED_AI_GENERATED or p.validation_state in ("Valid", "Trusted")
        seen.add(p.status)
    assert ProvenanceStatus.INVALID_OR_TAMPERED in seen


def test_xmp_declarations_are_declared_not_verified(fixtures: Fixtures) -> None:
    jpeg = check_provenance(fixtures / "xmp_ai.jpg")
    assert jpeg.status is ProvenanceStatus.DECLARED_AI_GENERATED and not jpeg.manifest_present
    assert jpeg.declared_source_types == ("trainedAlgorithmicMedia",)
    assert "XMP CreatorTool names Midjourney" in jpeg.hints and "XMP CreatorTool: Midjourney v6" in jpeg.software
    assert "not proof" in jpeg.meaning and verdict_raise_reason(jpeg) is None
    png = check_provenance(fixtures / "xmp_ai.png")
    assert png.declared_source_types == ("compositeWithTrainedAlgorithmicMedia",)


def test_non_ai_xmp_source_type_is_recorded_but_not_a_declaration(fixtures: Fixtures, tmp_path: Path) -> None:
    from facetrust.provenance.testing import write_with_xmp, xmp_packet

    path = write_with_xmp(fixtures / "plain.jpg", tmp_path / "camera.jpg", xmp_packet("digitalCapture"))
    p = check_provenance(path)
    assert p.status is ProvenanceStatus.NONE and p.declared_source_types == ("digitalCapture",)


def test_malformed_xmp_is_still_searched(tmp_path: Path, fixtures: Fixtures) -> None:
    packet = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description Iptc4xmpExt:DigitalSourceType='
              b'"http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"></x:xmpmeta>')  # unclosed
    with Image.open(fixtures / "plain.jpg") as image:
        image.save(tmp_path / "bad_xmp.jpg", xmp=packet)
    p = check_provenance(tmp_path / "bad_xmp.jpg")
    assert p.status is ProvenanceStatus.DECLARED_AI_GENERATED


def test_stripped_file_proves_nothing(fixtures: Fixtures) -> None:
    p = check_provenance(fixtures / "stripped.jpg")
    assert p.status is ProvenanceStatus.NONE and not p.manifest_present and p.hints == ()
    assert "prove nothing" in p.meaning and p.short() == ""


def test_generator_hints_are_hints(fixtures: Fixtures, tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "portrait of a man\nSteps: 30, Sampler: DPM++ 2M, CFG scale: 7, Seed: 1")
    with Image.open(fixtures / "plain.png") as image:
        image.save(tmp_path / "sd.png", pnginfo=info)
        exif = Image.Exif()
        exif[0x0131] = "Adobe Photoshop 25.0"
        exif[0x010E] = "made with Stable Diffusion XL"
        image.convert("RGB").save(tmp_path / "exif.jpg", exif=exif)
    sd = check_provenance(tmp_path / "sd.png")
    assert sd.status is ProvenanceStatus.NONE  # hints never change the status
    assert any("'parameters'" in h and "Stable Diffusion" in h for h in sd.hints)
    assert "Hints (not proof)" in sd.meaning and sd.short().startswith("none, hint:")
    tagged = check_provenance(tmp_path / "exif.jpg")
    assert tagged.status is ProvenanceStatus.NONE
    assert tagged.hints == ("EXIF ImageDescription names Stable Diffusion",)
    assert tagged.software == ("EXIF Software: Adobe Photoshop 25.0",)  # recorded, not a hint


def test_video_container_tags_are_hints(fixtures: Fixtures, tmp_path: Path) -> None:
    import av

    path = tmp_path / "tagged.mp4"
    with av.open(str(fixtures / "plain.mp4")) as source, av.open(str(path), "w") as target:
        target.metadata["comment"] = "Generated with Google Veo 3"
        stream = target.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                target.mux(packet)
    p = check_provenance(path)
    assert p.status is ProvenanceStatus.NONE and p.hints == ("container comment names Google Veo",)


def test_remote_manifests_and_ocsp_are_never_fetched(fixtures: Fixtures, tmp_path: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    requests: list[bytes] = []
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            requests.append(connection.recv(200))
            connection.close()

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    try:
        signer = make_test_signer(ocsp_url=f"http://127.0.0.1:{port}/ocsp")
        manifest = actions_manifest(AI_CREATED)
        sign_file(fixtures / "plain.jpg", tmp_path / "ocsp.jpg", manifest, signer)
        sign_file(fixtures / "plain.jpg", tmp_path / "remote.jpg", manifest, signer,
                  remote_url=f"http://127.0.0.1:{port}/manifest.c2pa")
        with_ocsp = check_provenance(tmp_path / "ocsp.jpg")
        remote = check_provenance(tmp_path / "remote.jpg")
    finally:
        stop.set()
        thread.join()
        server.close()
    assert requests == []
    assert with_ocsp.status is ProvenanceStatus.VERIFIED_AI_GENERATED
    assert remote.status is ProvenanceStatus.NONE and any("remote C2PA manifest" in n for n in remote.notes)


def test_without_c2pa_xmp_still_works(fixtures: Fixtures, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "c2pa", None)  # `import c2pa` now raises ImportError
    signed = check_provenance(fixtures / "ai.jpg")
    assert signed.status is ProvenanceStatus.NONE and not signed.manifest_present
    assert any("c2pa package is not installed" in n and "seems present" in n for n in signed.notes)
    assert "c2pa package is not installed" in signed.meaning
    assert check_provenance(fixtures / "xmp_ai.jpg").status is ProvenanceStatus.DECLARED_AI_GENERATED


def test_importing_facetrust_does_not_import_c2pa() -> None:
    code = "import sys, facetrust, facetrust.report; print(sorted(m for m in ('c2pa', 'PIL', 'av') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "c2pa" not in out


def test_unsupported_format_is_a_note(fixtures: Fixtures, tmp_path: Path) -> None:
    from facetrust.media.testing import write_video

    write_video(tmp_path / "clip.webm", [np.full((32, 32, 3), 100, np.uint8)] * 3)
    p = check_provenance(tmp_path / "clip.webm")
    assert p.status is ProvenanceStatus.NONE and any("cannot read this file format" in n for n in p.notes)


def test_default_provenance_is_not_checked() -> None:
    p = Provenance()
    assert p.status is ProvenanceStatus.NONE and not p.checked and p.meaning == "Provenance was not checked."


def test_files_without_a_c2pa_byte_do_not_load_c2pa(fixtures: Fixtures, tmp_path: Path) -> None:
    from facetrust.media.testing import write_video

    write_video(tmp_path / "clip.mp4", [np.full((32, 32, 3), 100, np.uint8)] * 3)
    code = ("import sys; from facetrust.provenance import check_provenance as c; "
            f"a = c({str(fixtures / 'plain.jpg')!r}); b = c({str(tmp_path / 'clip.mp4')!r}); "
            "print(a.status.value, b.status.value, 'c2pa' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["none", "none", "False"]
    # a signed file still goes through c2pa, and a plain file that merely names "c2pa" is read by it too
    code = ("import sys; from facetrust.provenance import check_provenance as c; "
            f"a = c({str(fixtures / 'ai.jpg')!r}); print(a.manifest_present, 'c2pa' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "True"]
    (tmp_path / "named.jpg").write_bytes((fixtures / "plain.jpg").read_bytes() + b"c2pa")
    from facetrust.provenance.check import might_hold_credentials

    assert might_hold_credentials(tmp_path / "named.jpg") and not might_hold_credentials(fixtures / "plain.jpg")
