"""The anonymous SMS help line. The folders are the parts, and imports run one way:

- `bot.engine`: one text in, the next state and the replies out (pure: no Flask, no database,
  no files, no clock; what it needs is built at start and passed in);
- `bot.directory`: the resource directory (HSDS tables, the snapshot replies are made from);
- `bot.web`: the Twilio webhook, `/healthz`, `/admin`, limits, replies as TwiML;
- `bot.cli`: the `helpline` commands; `bot.app`: the app factory (`wsgi:app`);
- `bot.privacy` (what may be kept), `bot.stats` (anonymous counts), `bot.tables` (tables built
  once per machine), `bot.errors` (errors shared between parts), `bot.evaluate`, `bot.train`.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout: flows/, data/, instance/
