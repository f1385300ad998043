import numpy as np
import pytest

import facetrust


def test_all_is_exact_and_sorted() -> None:
    assert facetrust.__all__ == sorted(facetrust.__all__)
    public = {n for n in vars(facetrust) if not n.startswith("_")} - {"annotations", "os", "np", "TYPE_CHECKING", "Any"}
    modules = {n for n in public if type(getattr(facetrust, n)).__name__ == "module"}
    assert public - modules <= set(facetrust.__all__)
    for name in facetrust.__all__:
        assert getattr(facetrust, name) is not None


def test_error_hierarchy() -> None:
    for leaf in (facetrust.UnsupportedMediaError, facetrust.CorruptMediaError, facetrust.EmptyMediaError,
                 facetrust.MediaNotFoundError, facetrust.MediaTooLargeError):
        assert issubclass(leaf, facetrust.InputError)
    assert issubclass(facetrust.InputError, facetrust.FacetrustError)
    assert issubclass(facetrust.UnknownNameError, facetrust.ConfigError)
    assert issubclass(facetrust.WeightsError, facetrust.FacetrustError)


def test_list_detectors_includes_default() -> None:
    names = [d.name for d in facetrust.list_detectors()]
    assert "default" in names


@pytest.mark.parametrize(("args", "kwargs", "error"), [
    ((b"\x00\x01",), {}, facetrust.InputError),
    ((None,), {}, facetrust.InputError),
    ((np.zeros((8, 8, 3), np.uint8),), {"frames": "8"}, facetrust.ConfigError),
    ((np.zeros((8, 8, 3), np.uint8),), {"frames": True}, facetrust.ConfigError),
    ((np.zeros((8, 8, 3), np.uint8),), {"per_second": "1"}, facetrust.ConfigError),
    ((np.zeros((8, 8, 3), np.uint8),), {"threshold": "0.5"}, facetrust.ConfigError),
    ((np.zeros((8, 8, 3), np.uint8),), {"detector": 3}, facetrust.ConfigError),
    ((np.zeros((8, 8, 3), np.uint8),), {"sampling": None}, facetrust.ConfigError),
])
def test_wrong_types_are_facetrust_errors_naming_the_option(args, kwargs, error) -> None:
    # issue 14, defect 7: never a bare TypeError / ValueError from deep inside
    with pytest.raises(error) as info:
        facetrust.analyze(*args, **kwargs)
    if kwargs:
        assert next(iter(kwargs)) in str(info.value)


def test_progress_reports_each_stage_in_order(tmp_path) -> None:
    from conftest import face_frames
    from facetrust.media.testing import write_video

    path = tmp_path / "clip.mp4"
    write_video(path, face_frames(24))
    events: list[tuple[str, float]] = []
    facetrust.analyze(path, frames=16, progress=lambda stage, fraction: events.append((stage, fraction)))
    stages = [stage for stage, _ in events]
    assert stages[0] == "faces" and stages[-2:] == ["scoring", "done"]
    face_fractions = [f for s, f in events if s == "faces"]
    assert face_fractions == sorted(face_fractions) and face_fractions[-1] == 1.0 and len(face_fractions) == 2


def test_probe_reads_the_kind_from_the_bytes_not_the_name(tmp_path) -> None:
    from conftest import astronaut
    from facetrust.media.testing import write_image

    disguised = tmp_path / "photo.mp4"  # a JPEG named like a video
    write_image(tmp_path / "a.jpg", astronaut())
    disguised.write_bytes((tmp_path / "a.jpg").read_bytes())
    info = facetrust.probe(disguised)
    assert (info.kind, info.width, info.height) == ("image", 512, 512)
    (tmp_path / "text.jpg").write_text("not an image at all\n" * 10)
    with pytest.raises(facetrust.UnsupportedMediaError):
        facetrust.probe(tmp_path / "text.jpg")
    with pytest.raises(facetrust.MediaNotFoundError):
        facetrust.probe(tmp_path / "missing.png")
