"""``facetrust detect --report DIR --plots DIR`` on real media: a page per input with the verdict, the face
thumbnail, the timeline and the heatmap, an index, PNG plots; a hostile file name never becomes markup."""

from __future__ import annotations

import re
import traceback
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from facetrust.cli.main import app
from facetrust.demo import self_blended_astronaut
from facetrust.media.testing import write_image

XSS = "<img src=x onerror=alert(1)>"


def _run(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        "".join(traceback.format_exception(*result.exc_info)) + result.output)
    return result


class _Images(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.handlers: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs) -> None:
        for key, value in attrs:
            if key == "src":
                self.sources.append(value or "")
            if key.startswith("on"):
                self.handlers.append(f"{tag} {key}")


@pytest.mark.slow
def test_detect_writes_pages_index_and_plots(tmp_path: Path) -> None:
    fake = write_image(tmp_path / f"{XSS}.jpg", self_blended_astronaut())
    corrupt = tmp_path / f"{XSS}.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x17" * 300)  # starts like an mp4, is not one
    pages, plots = tmp_path / "report", tmp_path / "plots"
    result = _run("detect", str(fake), str(corrupt), "--report", str(pages), "--plots", str(plots))
    assert result.exit_code == 1  # one input failed; the other still got its page
    assert re.search(r"FAKE  0\.\d\d", result.stdout)

    names = sorted(p.name for p in pages.iterdir())
    assert names == ["img_src_x_onerror_alert_1_.jpg.html", "img_src_x_onerror_alert_1_.mp4.html", "index.html"]
    page = (pages / "img_src_x_onerror_alert_1_.jpg.html").read_text(encoding="utf-8")
    parsed = _Images(page)
    assert parsed.handlers == [] and "<script" not in page and XSS not in page
    assert all(src.startswith("data:image/") for src in parsed.sources)
    text = re.sub(r"<[^>]+>", " ", page)
    assert "The faces in this image look altered." in text and re.search(r"Fake probability  0\.\d\d", text)
    assert "&lt;img src=x onerror=alert(1)&gt;.jpg" in page
    # thumbnail (jpeg), gauge plot (png) and one Grad-CAM panel marked as evidence
    assert sum(s.startswith("data:image/jpeg") for s in parsed.sources) == 2
    assert sum(s.startswith("data:image/png") for s in parsed.sources) == 1
    assert "gradcam" in text and "evidence of alteration" in text

    error_page = (pages / "img_src_x_onerror_alert_1_.mp4.html").read_text(encoding="utf-8")
    assert "Could not analyse this file" in error_page and XSS not in error_page
    assert _Images(error_page).handlers == []
    index = (pages / "index.html").read_text(encoding="utf-8")
    assert 'href="img_src_x_onerror_alert_1_.jpg.html"' in index and "2 file(s): 1 ERROR, 1 FAKE" in index
    assert XSS not in index

    (plot,) = plots.iterdir()
    assert plot.name == "img_src_x_onerror_alert_1_.jpg.person1.png"
    with Image.open(plot) as image:
        assert image.format == "PNG"


def test_report_folder_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("x")
    image = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    for option in ("--report", "--plots"):
        result = _run("detect", str(image), option, str(taken))
        assert result.exit_code == 2 and "is a file, expected a folder" in result.stderr
