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
