"""Chaos, long version: ``python -m scripts.chaos`` (docs/reliability.md has the numbers).

1,000 sellers go through their whole journey and 1,000 parcels arrive (one in ten of sellers who
never sign up) while the worker — ``python worker.py`` with SMTP notifications and HTTP broker and
warehouse deliveries — is killed with SIGKILL ten times at random and restarted, and the dev server
(``temporal server start-dev`` on a SQLite file) is stopped and restarted while timers are pending.
The receiving ends count every delivery by idempotency key. Loopback only; bounded in time by
``--drain-timeout``. Exits 1 if anything was lost or delivered twice.
"""

import argparse
import asyncio
import json
import sys
import tempfile
from dataclasses import fields
from pathlib import Path

from bench.chaos import ChaosConfig, run_chaos, summary

LONG = ChaosConfig(
    onboardings=1000,
    holds=1000,
    unknown_share=0.1,
    spread_s=150.0,
    event_gap_s=2.0,
    worker_kills=10,
    server_restarts=1,
    server_down_s=10.0,
    drain_timeout_s=900.0,
    acted_bound_s=90.0,
    concurrency=200,
    seed=2026,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for f in fields(ChaosConfig):
        default = getattr(LONG, f.name)
        kind = float if isinstance(default, float) or default is None else type(default)
        parser.add_argument(
            f"--{f.name.replace('_', '-')}", type=kind, default=default, help=f"default {default}"
        )
    parser.add_argument("--json", type=Path, help="write the full report here")
    parser.add_argument(
        "--keep", type=Path, help="keep the run's data (server database, logs) in this folder"
    )
    args = parser.parse_args(argv)
    config = ChaosConfig(**{f.name: getattr(args, f.name) for f in fields(ChaosConfig)})

    if args.keep:
        report = asyncio.run(run_chaos(config, args.keep))
    else:
        with tempfile.TemporaryDirectory(prefix="carm-chaos-") as tmp:
            report = asyncio.run(run_chaos(config, Path(tmp)))
    print(summary(report))
    if args.json:
        args.json.write_text(json.dumps(report.as_dict(), indent=1) + "\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
