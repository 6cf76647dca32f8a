"""`hotline users ...` (dashboard accounts) and `hotline calls export` (DESIGN.md contract)."""

from __future__ import annotations

import datetime as dt
import sys

import click

from ..config import load_settings


def _database() -> object:
    from ..db import Database

    return Database(load_settings()["HOTLINE_DATABASE_URL"])


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    if len(password) < 10:
        raise click.ClickException("the password needs at least 10 characters")
    return password


@click.group()
def users() -> None:
    """Dashboard accounts."""


def _create(email: str, role: str, counselor_phone: str | None, password_stdin: bool) -> None:
    from sqlalchemy import select

    from ..db import Database
    from ..models import Counselor, User
    from ..phone import InvalidNumber, mask, parse_number
    from .passwords import hash_password

    email = email.strip().lower()
    if "@" not in email:
        raise click.ClickException(f"{email!r} is not an email address")
    password = _read_password(password_stdin)
    database = _database()
    assert isinstance(database, Database)
    try:
        with database.session() as session:
            if session.scalars(select(User).where(User.email == email)).first():
                raise click.ClickException(f"{email} is already a user")
            counselor_id = None
            if counselor_phone is not None:
                try:
                    phone = parse_number(counselor_phone)
                except InvalidNumber:
                    raise click.ClickException("--counselor: not a phone number") from None
                counselor = session.scalars(
                    select(Counselor).where(Counselor.phone == phone)
                ).first()
                if counselor is None:
                    raise click.ClickException(f"no counselor with the number {mask(phone)}")
                counselor_id = counselor.id
            session.add(
                User(
                    email=email,
                    role=role,
                    counselor_id=counselor_id,
                    password_hash=hash_password(password),
                )
            )
    finally:
        database.dispose()
    click.echo(f"created {role} {email}")


@users.command("create-manager")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def create_manager(email: str, password_stdin: bool) -> None:
    """Create a manager account (prompts for the password)."""
    _create(email, "manager", None, password_stdin)


@users.command("create-counselor")
@click.argument("email")
@click.option("--counselor", "phone", required=True, help="the counselor's phone number")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def create_counselor(email: str, phone: str, password_stdin: bool) -> None:
    """Create a counselor's account, linked to the counselor with that phone number."""
    _create(email, "counselor", phone, password_stdin)


@click.group()
def calls() -> None:
    """The call log."""


@calls.command("export")
@click.option("--since", required=True, type=click.DateTime(["%Y-%m-%d"]), help="UTC date")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="UTC date, exclusive")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv")
def calls_export(since: dt.datetime, until: dt.datetime | None, fmt: str) -> None:
    """Write the call log (one row per call, numbers masked) to standard output."""
    from ..callsearch import CallFilter, iter_calls
    from ..db import Database
    from ..export import csv_lines, json_chunks

    f = CallFilter(
        since=since.replace(tzinfo=dt.UTC), until=until.replace(tzinfo=dt.UTC) if until else None
    )
    database = _database()
    assert isinstance(database, Database)
    try:
        with database.session() as session:
            chunks = csv_lines if fmt == "csv" else json_chunks
            for chunk in chunks(iter_calls(session, f)):
                sys.stdout.write(chunk)
    finally:
        database.dispose()


def attach(main: click.Group) -> None:
    main.add_command(users)
    main.add_command(calls)
