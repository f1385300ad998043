"""The words provenance metadata uses: IPTC digital source types, C2PA actions and the names of generators.

Digital source types are written as full URIs in files (``http://cv.iptc.org/newscodes/digitalsourcetype/
trainedAlgorithmicMedia``); everything here uses the last segment, the IPTC term."""

from __future__ import annotations

import re

# IPTC digital source types that say the media was made, wholly or partly, by an algorithm (generative AI
# among them). ``compositeSynthetic`` and ``algorithmicMedia`` may be non-AI synthesis (CGI, procedural
# art); they are counted here because the media is synthetic either way.
AI_SOURCE_TYPES = frozenset({
    "trainedAlgorithmicMedia",  # made by a trained model (text-to-image, face generators)
    "compositeWithTrainedAlgorithmicMedia",  # a composite with AI-made parts (generative fill, face swap)
    "algorithmicMedia",  # made by an algorithm without training data
    "compositeSynthetic",  # a composite of which at least one element is synthetic
})

# Source types that say the media was captured from the real world by a device.
CAPTURE_SOURCE_TYPES = frozenset({
    "digitalCapture",
    "computationalCapture",  # a phone's multi-frame capture
    "negativeFilm",
    "positiveFilm",
    "print",
    "compositeCapture",
    "screenCapture",
    "virtualRecording",
})

# C2PA actions that do not change what the media shows (the rest count as edits).
NON_EDITORIAL_ACTIONS = frozenset({
    "c2pa.created",
    "c2pa.opened",
    "c2pa.published",
    "c2pa.transcoded",
    "c2pa.repackaged",
    "c2pa.watermarked",
    "c2pa.unknown",
})

# Generators and face swappers, as they name themselves in a Software / CreatorTool / comment field:
# (display name, case-insensitive regular expression). A match is a hint, never proof.
GENERATOR_PATTERNS = (
    ("Stable Diffusion", r"\bstable[ -]?diffusion\b|\bSDXL\b"),
    ("Midjourney", r"\bmidjourney\b"),
    ("DALL-E", r"\bdall[-·\s]?e\b"),
    ("Adobe Firefly", r"\bfirefly\b"),
    ("Google Imagen", r"\bimagen\s*\d|\bgoogle imagen\b"),
    ("Google Veo", r"\bveo\s*\d|\bgoogle veo\b"),
    ("Gemini", r"\bgemini\b"),
    ("OpenAI", r"\bopenai\b|\bchatgpt\b|\bgpt-?4o\b|\bgpt-image"),
    ("Sora", r"\bsora\b"),
    ("Bing Image Creator", r"\bbing image creator\b"),
    ("Ideogram", r"\bideogram\b"),
    ("Leonardo.Ai", r"\bleonardo\.?ai\b"),
    ("NovelAI", r"\bnovelai\b"),
    ("ComfyUI", r"\bcomfyui\b"),
    ("AUTOMATIC1111", r"\bautomatic1111\b"),
    ("InvokeAI", r"\binvokeai\b"),
    ("Fooocus", r"\bfooocus\b"),
    ("DreamStudio", r"\bdreamstudio\b"),
    ("Craiyon", r"\bcraiyon\b"),
    ("FLUX", r"\bflux\.1\b|\bblack forest labs\b"),
    ("Runway", r"\brunwayml\b|\brunway gen"),
    ("Pika", r"\bpika labs\b|\bpika\s*\d"),
    ("Kling", r"\bkling\s*(ai|\d)"),
    ("Grok", r"\bgrok\b|\baurora\b.*\bxai\b"),
    ("Synthesia", r"\bsynthesia\b"),
    ("HeyGen", r"\bheygen\b"),
    ("DeepFaceLab", r"\bdeepfacelab\b"),
    ("FaceFusion", r"\bfacefusion\b"),
    ("faceswap", r"\bface-?swap\b"),
    ("roop", r"\broop\b"),
    ("Reface", r"\breface\b"),
)

# PNG text keys that generators write with their generation settings.
GENERATOR_TEXT_KEYS = {
    "parameters": "Stable Diffusion (AUTOMATIC1111 / Forge) generation parameters",
    "prompt": "ComfyUI prompt graph",
    "workflow": "ComfyUI workflow",
    "invokeai_metadata": "InvokeAI generation metadata",
    "sd-metadata": "InvokeAI generation metadata",
    "Dream": "InvokeAI (Dream) generation parameters",
    "generation_data": "generation parameters",
}

IPTC_SOURCE_TYPE_PREFIXES = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/",
    "https://cv.iptc.org/newscodes/digitalsourcetype/",
)


def source_type_term(value: str) -> str:
    """``"http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"`` → ``"trainedAlgorithmicMedia"``
    (other URIs and bare terms: their last path segment, without surrounding spaces)."""
    return value.strip().rstrip("/").rsplit("/", 1)[-1]


def is_ai_source_type(term: str) -> bool:
    return term in AI_SOURCE_TYPES


def is_capture_source_type(term: str) -> bool:
    return term in CAPTURE_SOURCE_TYPES


_GENERATORS = tuple((name, re.compile(pattern, re.IGNORECASE)) for name, pattern in GENERATOR_PATTERNS)


def generator_names(text: str) -> list[str]:
    """The generators whose name appears in ``text`` (``"Made with Stable Diffusion XL"`` → ``["Stable Diffusion"]``)."""
    return [name for name, pattern in _GENERATORS if pattern.search(text)]
