"""``facetrust detect | models | demo | export | explain | app | serve | scan | watch | train | extract | eval |
benchmark | ensemble``. Each command calls the public API and maps errors to exit codes: 0 every input analysed, 1 some input failed (the rest are still analysed) or the detector could not be
loaded, 2 usage error (checked before any analysis), 130 interrupted (results so far are still written).

Output: one result line per input on stdout (failed inputs too: ``path  ERROR  Type: message``), so
``facetrust detect dir > results.txt`` captures them; the progress bar, warnings and the summary go to stderr.
Every path and message is escaped before it reaches Rich markup, so ``clip [final].mp4`` prints intact."""

from __future__ import annotations

import sys

import typer

from facetrust.cli import analyse, research, scan, serve
from facetrust.cli import app as web_app
from facetrust.cli import explain as explain_cli
from facetrust.cli.common import err

app = typer.Typer(
    name="facetrust",
    help="Tell whether the faces in images and videos have been altered.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# checking media (cli/analyse.py, cli/explain.py)
app.command()(analyse.detect)
app.command()(analyse.models)
app.command()(analyse.demo)
app.command()(analyse.export)
app.command()(explain_cli.explain)
# the web app (cli/app.py)
app.command("app")(web_app.app)
# building detectors (cli/research.py)
app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": False})(research.train)
app.command()(research.extract)
app.command("eval")(research.evaluate)
app.command()(research.benchmark)
app.command()(research.ensemble)
# running as a service (cli/serve.py)
app.command()(serve.serve)
# corpus scans on Ray and live streams (cli/scan.py)
app.command()(scan.scan)
app.command()(scan.watch)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
