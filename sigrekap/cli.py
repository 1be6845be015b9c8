"""Command-line interface: set-up, demo data and the document commands."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import click
from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from . import accounts, archive_cli, db, demo, importing, keys, recaps, workflow
from .errors import UserError
from .models import User
from .storage import FileStore


def init_app(app: Flask) -> None:
    """Register the commands on the app."""
    for command in (
        upgrade_db_command,
        init_demo_command,
        demo_accounts_command,
        demo_chain_command,
        verify_command,
        *archive_cli.COMMANDS,
    ):
        app.cli.add_command(command)


def _instance() -> Path:
    return Path(current_app.instance_path)


@click.command("upgrade-db")
def upgrade_db_command() -> None:
    """Apply the database migrations."""
    db.upgrade_schema(current_app.config["DATABASE_URL"])
    click.echo("Database schema is up to date.")


def prepare_demo(
    session: Session,
    credentials_dir: Path,
    office_pki: keys.OfficePKI,
    crl_url: str | None = None,
) -> None:
    """Create the demo office and users, and a signing key for each demo approver.

    Generated passwords and passphrases are kept in ``credentials_dir``.
    """
    credentials = demo.ensure_demo_office(session, credentials_dir)
    office = accounts.get_office(session)
    approvers = session.scalars(
        select(User).where(User.role.in_(keys.SIGNING_ROLES), User.is_active.is_(True))
    )
    for user in approvers:
        passphrase = credentials.get(user.username, {}).get("passphrase")
        if passphrase and keys.active_key(session, user) is None:
            keys.create_key(
                session,
                user,
                office_pki,
                office.name,
                passphrase,
                passphrase,
                crl_url=crl_url,
            )


def _office_pki() -> keys.OfficePKI:
    return keys.ensure_office_pki(
        _instance(), Path(current_app.config["CERTS_DIR"]), demo.OFFICE_NAME
    )


@click.command("init-demo")
def init_demo_command() -> None:
    """Migrate the database and create the demo office, users and keys."""
    db.upgrade_schema(current_app.config["DATABASE_URL"])
    base_url = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    prepare_demo(db.session(), _instance(), _office_pki(), base_url + keys.CRL_PATH)
    click.echo("Demo office is ready.")


@click.command("demo-accounts")
def demo_accounts_command() -> None:
    """Print the demo accounts and their generated passwords."""
    credentials = demo.load_credentials(_instance())
    click.echo("")
    click.echo("Demo accounts (passwords are generated per installation):")
    for user in demo.DEMO_USERS:
        entry = credentials.get(user.username, {})
        line = f"  {user.role:<9} user {user.username:<9} password {entry.get('password', '?')}"
        if "passphrase" in entry:
            line += f"  signing passphrase {entry['passphrase']}"
        click.echo(line)
    click.echo("")


@click.command("demo-chain")
@click.option(
    "--lapor",
    "lapor_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="LAPOR! export (.xlsx or .csv).",
)
@click.option("--period", required=True, help="Recap period as YYYY-MM.")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for recap-signed.pdf and recap.xlsx.",
)
def demo_chain_command(lapor_path: Path, period: str, out_dir: Path) -> None:
    """Run the whole procedure on an export as the demo users.

    The run uses a scratch database, so it can be repeated for any period,
    but the office PKI of this installation: its CA in certs/ validates the
    result.
    """
    config = current_app.config
    try:
        with tempfile.TemporaryDirectory(prefix="sigrekap-demo-chain-") as scratch:
            scratch_dir = Path(scratch)
            url = f"sqlite:///{scratch_dir / 'demo-chain.db'}"
            db.upgrade_schema(url)
            engine = db.make_engine(url)
            with Session(engine, expire_on_commit=False) as session:
                pdf, workbook = _run_chain(
                    session, config, scratch_dir, lapor_path, period
                )
            engine.dispose()
    except UserError as exc:
        raise click.ClickException(exc.message) from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "recap-signed.pdf").write_bytes(pdf)
    (out_dir / "recap.xlsx").write_bytes(workbook)
    click.echo(f"Wrote {out_dir / 'recap-signed.pdf'} and {out_dir / 'recap.xlsx'}")


def _run_chain(
    session: Session, config: dict, scratch: Path, lapor_path: Path, period: str
) -> tuple[bytes, bytes]:
    # The scratch office signs with this installation's PKI, so the CA in
    # certs/ validates the result; its users' passphrases stay in ``scratch``.
    office_pki = _office_pki()
    prepare_demo(session, scratch, office_pki)
    credentials = demo.load_credentials(scratch)
    users = {user.username: user for user in session.scalars(select(User))}

    settings = workflow.SigningSettings(
        office_pki=office_pki,
        timestamp=workflow.timestamp_config(config, office_pki),
        store=FileStore(scratch / "storage"),
        base_url=config["PUBLIC_BASE_URL"],
        office_name=accounts.get_office(session).name,
    )
    admin = users["admin"]
    recap = recaps.create_recap(session, admin, period)
    preview = importing.preview_import(
        session,
        admin,
        recap,
        lapor_path.name,
        lapor_path.read_bytes(),
        scratch / "uploads",
        max_bytes=int(config["IMPORT_MAX_BYTES"]),
    )
    if not preview.can_confirm:
        problems = "; ".join(
            f"row {p.row} {p.column}: {p.reason}" for p in preview.result.problems[:10]
        )
        raise UserError(f"The export has errors and was not imported: {problems}")
    importing.confirm_import(
        session,
        admin,
        recap,
        preview.token,
        scratch / "uploads",
        max_bytes=int(config["IMPORT_MAX_BYTES"]),
    )
    workflow.submit(session, settings, admin, recap, recap.version)
    for username in keys.SIGNING_ROLES:
        workflow.approve(
            session,
            settings,
            users[username],
            recap,
            recap.version,
            credentials[username]["passphrase"],
        )
    workflow.archive(session, settings, admin, recap, recap.version)
    revision = recap.current_revision
    assert revision is not None and revision.workbook_sha256 is not None
    return settings.store.get(revision.sha256), settings.store.get(
        revision.workbook_sha256
    )


@click.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify_command(file: Path, as_json: bool) -> None:
    """Validate a PDF's signatures against the trust anchors in certs/.

    Exit status 0: every signature is valid and trusted and nothing changed
    after the last one; 1: any of them is not; 2: the file is unreadable, not
    a PDF or has no signature.
    """
    from .verify import EXIT_UNVERIFIABLE, verify_pdf

    try:
        data = file.read_bytes()
    except OSError as exc:
        click.echo(f"Cannot read {file}: {exc.strerror}", err=True)
        sys.exit(EXIT_UNVERIFIABLE)
    try:
        revocation = keys.revocation_data(db.session(), Path(current_app.instance_path))
    except SQLAlchemyError as exc:
        # Without the revoked keys a leaked key's signature would pass.
        click.echo(
            f"Cannot read the revoked keys from the database ({exc.__class__.__name__}). "
            "Run `flask --app wsgi upgrade-db` to set the database up, then verify again.",
            err=True,
        )
        sys.exit(EXIT_UNVERIFIABLE)
    report = verify_pdf(
        data,
        keys.trust_roots(Path(current_app.config["CERTS_DIR"])),
        crls=revocation.crls,
        revoked=revocation.revoked,
    )
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(report.summary())
    sys.exit(report.exit_code)
