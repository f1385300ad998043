"""The web app, ``facetrust app``: drop an image or a video into a page and read the answer (Streamlit).

:data:`APP_SCRIPT` is the Streamlit script (layout only); :mod:`facetrust.app.logic` holds what it does, free
of Streamlit. Nothing here is imported by ``import facetrust``.
"""

from __future__ import annotations

from pathlib import Path

APP_SCRIPT = Path(__file__).with_name("streamlit_app.py")

__all__ = ["APP_SCRIPT"]
