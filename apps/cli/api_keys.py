"""Makes, lists and revokes the API service's keys (the same database as the API):

    python -m apps.cli.api_keys create --name "nightly export" --scope chat --days 90
    python -m apps.cli.api_keys create --name "payroll bot" --scope chat --groups hr,finance
    python -m apps.cli.api_keys list
    python -m apps.cli.api_keys revoke KEY_ID

`create` prints the key once; only its hash is stored. `--groups` names the groups
whose documents the key reads, besides the documents that name no groups (a key
with the admin scope reads every document).
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Optional, Sequence, Text

from apps.entrypoint import run
from bilingual_assistant.access.keys import ApiKeys
from bilingual_assistant.access.principal import SCOPES
from bilingual_assistant.adapters.sql_service_store import SqlKeyStore, connect
from bilingual_assistant.config import ApiSettings, load


def _when(seconds: Optional[float]) -> Text:
    return "-" if seconds is None else dt.datetime.fromtimestamp(
        seconds, dt.UTC).strftime("%Y-%m-%d %H:%M")


def main(argv: Optional[Sequence[Text]] = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Manage the API service's keys.")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="make a key and print it once")
    create.add_argument("--name", required=True, help="what the key is for")
    create.add_argument("--scope", action="append", required=True, choices=SCOPES,
                        help="what it may do; repeat for several")
    create.add_argument("--days", type=float, help="lifetime in days (default: no expiry)")
    create.add_argument("--groups", default="",
                        help="comma-separated groups whose documents it reads (hr,finance)")
    commands.add_parser("list", help="every key, without the keys themselves")
    revoke = commands.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)

    keys = ApiKeys(SqlKeyStore(connect(load(ApiSettings).db_url)))
    if args.command == "create":
        token, record = keys.issue(args.name, args.scope, args.days, args.groups)
        print(token)
        print(f"id {record.id}, scopes {' '.join(record.scopes)}, groups "
              f"{record.groups or '-'}, expires {_when(record.expires_at)} (UTC). "
              f"Keep the key: it is not shown again.")
    elif args.command == "list":
        now = keys.clock()
        print(f"{'id':12}  {'state':8}  {'expires (UTC)':16}  {'last used (UTC)':16}  "
              f"scopes / groups / name")
        for record in keys.list():
            print(f"{record.id:12}  {record.state(now):8}  {_when(record.expires_at):16}  "
                  f"{_when(record.last_used_at):16}  {' '.join(record.scopes)} / "
                  f"{record.groups or '-'} / {record.name}")
    else:
        record = keys.revoke(args.key_id)
        print(f"revoked {record.id} ({record.name})")
    return 0


if __name__ == "__main__":
    run(main)
