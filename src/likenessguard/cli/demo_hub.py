"""``likenessguard demo-hub DIR``: build the synthetic sample hub used by ``make demo``.

People evaluating likenessguard need something to scan that exercises every
feature (likeness, sexual and minor-risk verdicts, bans, disguised copies,
hostile files) without downloading anyone's models; this command writes it,
with a truth manifest to check the results against.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from likenessguard.cli.exit_codes import ExitCode


def demo_hub(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Folder to build the hub in (created; a previous demo hub there is replaced)."
        ),
    ],
    repos: Annotated[
        int, typer.Option("--repos", min=1, help="Number of repo folders (at least 80).")
    ] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, byte-identical hub.")] = 0,
) -> None:
    """Build a synthetic model hub (~200 repos, < 60 MB) with a truth manifest and banned.csv."""
    from likenessguard.testing.demo import MIN_REPOS, build_demo_hub

    if repos < MIN_REPOS:
        typer.echo(
            f"error: --repos {repos} is too small: the demo hub needs at least {MIN_REPOS} "
            "repos for its fixed cases",
            err=True,
        )
        raise typer.Exit(ExitCode.USAGE)
    if directory.exists() and not directory.is_dir():
        typer.echo(f"error: {directory} exists and is not a folder: pass a folder path", err=True)
        raise typer.Exit(ExitCode.USAGE)
    try:
        hub = build_demo_hub(directory, repos=repos, seed=seed)
    except OSError as exc:
        typer.echo(
            f"error: could not write the demo hub in {directory}: {exc.strerror or exc}", err=True
        )
        raise typer.Exit(ExitCode.ENVIRONMENT) from None
    severities = Counter(r["severity"] for r in hub.repos)
    files, mb = len(hub.files), hub.size_bytes() / 1e6
    typer.echo(f"built {len(hub.repos)} repos ({files} model files, {mb:.1f} MB) in {directory}")
    typer.echo(
        "truth: "
        + ", ".join(
            f"{s} {severities.get(s, 0)}" for s in ("critical", "high", "medium", "low", "none")
        )
        + f"; {sum(1 for f in hub.files if f['copy_of'])} copies, "
        + f"{len(hub.banned)} banned originals"
    )
    typer.echo(f"manifest: {hub.manifest_path}")
    typer.echo(f"listings: {hub.listings_path}\nbanned list: {hub.banned_path}")


def register(app: typer.Typer) -> None:
    app.command("demo-hub")(demo_hub)
