"""One router per resource: ``analyses`` (the jobs), ``detectors``, ``health``. No analysis logic lives here."""
