"""Archive commands: integrity check and export for the records office."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from . import accounts, archive_export, archive_integrity, db, keys
from .errors import UserError
from .storage import FileStore


def _store() -> FileStore:
    return FileStore(Path(current_app.config["STORAGE_DIR"]))


@click.command("archive-check")
@with_appcontext
def archive_check_command() -> None:
    """Re-hash every stored file and check every recap's audit chain.

    Prints one line per problem and a summary. The exit status is 1 when
    anything is wrong, 0 otherwise.
    """
    result = archive_integrity.check_archive(db.session(), _store())
    for problem in result.problems:
        click.echo(problem.line())
    click.echo(result.summary())
    sys.exit(0 if result.is_ok else 1)


@click.command("archive-export")
@with_appcontext
@click.option(
    "--period",
    required=True,
    help="Year (YYYY) or month (YYYY-MM) whose archived recaps are exported.",
)
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Zip file to write.",
)
def archive_export_command(period: str, out_file: Path) -> None:
    """Write the archived recaps of a year or month as one zip with a manifest."""
    session = db.session()
    try:
        result = archive_export.export_archive(
            session,
            _store(),
            keys.trust_roots(Path(current_app.config["CERTS_DIR"])),
            period,
            accounts.get_office(session).name,
            revocation=keys.revocation_data(session, Path(current_app.instance_path)),
        )
    except UserError as exc:
        raise click.ClickException(exc.message) from exc
    out_file.write_bytes(result.data)
    click.echo(f"Wrote {result.recap_count} archived recap(s) to {out_file}")


COMMANDS = (archive_check_command, archive_export_command)
