"""``likenessguard demo``: the whole product on a sample hub, in one command.

``make demo`` runs it after ``demo-hub`` has built a hub of synthetic models.
It does what a platform does on day one: import the researchers' list of
removed models as a bank, scan the hub into the catalog (verdicts, bank
matches, fingerprints), re-match, cluster the mirrors, show the findings, and
open the review app's queue with a demo admin.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from likenessguard.banks.io import read_bank_file
from likenessguard.cli.common import DbOption, console, exit_on_error, open_catalog
from likenessguard.config import load_settings
from likenessguard.errors import UsageError
from likenessguard.pipeline.analyzers import build_analyzers
from likenessguard.pipeline.executors.local import make_executor
from likenessguard.pipeline.match import find_mirrors, rematch
from likenessguard.pipeline.scanner import Scanner
from likenessguard.reports.base import ReportFormat, make_report
from likenessguard.store.banks import CatalogEngine, add_entries, create_bank, list_banks
from likenessguard.verdicts.base import Severity

DEMO_BANK = "demo-banned"


def _import_banned(engine: CatalogEngine, hub: Path) -> str | None:
    """Import the hub's spreadsheet of removed models (if any) as the demo bank."""
    banned = hub / "banned.csv"
    if not banned.is_file():
        return None
    if DEMO_BANK not in {b.name for b in list_banks(engine)}:
        create_bank(engine, DEMO_BANK, description="removed models (demo spreadsheet)")
    result = read_bank_file(banned, added_by="demo")
    add_entries(engine, DEMO_BANK, result.entries, added_by="demo")
    return f"bank {DEMO_BANK}: {len(result.entries)} entries imported from {banned.name}"


def demo_command(
    hub: Annotated[
        Path,
        typer.Option("--hub", help="A hub built by 'likenessguard demo-hub DIR'.", exists=False),
    ],
    db: DbOption = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="Parallel workers (0: one per core).")
    ] = 0,
    serve_hint: Annotated[
        bool, typer.Option("--serve-hint/--no-serve-hint", help="Create the demo admin.")
    ] = True,
) -> None:
    """Scan a demo hub into the catalog and show what likenessguard finds."""
    out = console()
    err = console(stderr=True)
    with exit_on_error():
        if not hub.is_dir():
            raise UsageError(
                f"{hub} is not a folder: build one first with 'likenessguard demo-hub {hub}'"
            )
        catalog = open_catalog(db)
        try:
            bank_note = _import_banned(catalog.engine, hub)
            if bank_note:
                err.print(bank_note, markup=False)
            analyzers = build_analyzers(load_settings(), catalog=catalog)
            scanner = Scanner(catalog, analyzers=analyzers, executor=make_executor(jobs))
            err.print(f"scanning {hub} ...", markup=False)
            for _event in scanner.scan_paths([hub]):
                pass
            stats = scanner.stats
            err.print(
                f"scanned {stats.files} files ({stats.records} records, "
                f"{stats.errored} with errors) into {catalog.url}",
                markup=False,
            )
            report = rematch(catalog.engine)
            err.print(
                f"rematch: {report.matched} artifacts match a bank ({report.matches} matches)",
                markup=False,
            )
            findings = make_report(ReportFormat.TABLE, sys.stdout, title="findings")
            for record in catalog.iter_records(min_severity=Severity.LOW):
                findings.add(record)
            findings.close()

            counts = catalog.count_by_severity()
            table = Table(title="catalog by severity")
            table.add_column("severity")
            table.add_column("artifacts", justify="right")
            for sev in sorted(counts, reverse=True):
                table.add_row(sev.label, str(counts[sev]))
            out.print(table)

            clusters = [c for c in find_mirrors(catalog.engine) if len(c.members) > 1]
            mirrors = Table(title=f"mirror clusters ({len(clusters)})")
            mirrors.add_column("copies", justify="right")
            mirrors.add_column("how")
            mirrors.add_column("earliest seen")
            for cluster in clusters[:10]:
                mirrors.add_row(
                    str(len(cluster.members)),
                    ", ".join(cluster.methods),
                    cluster.members[0].path.removeprefix(str(hub.resolve()) + "/"),
                )
            out.print(mirrors)

            if serve_hint:
                from likenessguard.web.demo import prepare_demo

                user, password = prepare_demo(catalog.engine)
                url = catalog.engine.url.render_as_string(hide_password=True)
                out.print(
                    "\nReview the findings in the web app:\n"
                    f"  .venv/bin/likenessguard serve --db {url}\n"
                    "  then open http://127.0.0.1:8000 and sign in as "
                    f"{user} with the one-time password {password}\n"
                    "  (you will be asked to choose a new password).",
                    markup=False,
                    highlight=False,
                )
        finally:
            catalog.close()


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
