"""Live monitoring: rolling verdicts on a stream URL, a webcam or a video file played as a stream.

>>> from facetrust.watch import watch
>>> for verdict in watch("rtsp://camera/stream", every=2.0, until=60):     # doctest: +SKIP
...     print(verdict.line())

Each :class:`RollingVerdict` judges the faces of the last ``window`` seconds per tracked person (REAL / FAKE /
UNCERTAIN / NO_FACE). At most ``fps`` frames are analysed per second of stream; when the CPU falls behind,
frames are skipped so that the verdicts keep up with real time. The CLI is ``facetrust watch`` (docs/watch.md).
"""

from facetrust.watch.live import MAX_FPS, rolling_verdicts, watch
from facetrust.watch.monitor import OnlineTracker, RollingMonitor
from facetrust.watch.records import PersonInWindow, RollingVerdict
from facetrust.watch.sources import Stream, StreamFrame, describe_source, open_stream

__all__ = [
    "MAX_FPS",
    "OnlineTracker",
    "PersonInWindow",
    "RollingMonitor",
    "RollingVerdict",
    "Stream",
    "StreamFrame",
    "describe_source",
    "open_stream",
    "rolling_verdicts",
    "watch",
]
