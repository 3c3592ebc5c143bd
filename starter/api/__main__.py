"""``python -m starter.api``: serve the API on API_HOST:API_PORT, or write its OpenAPI document.

python -m starter.api                                  serve on API_HOST:API_PORT (make run does)
python -m starter.api --write-openapi docs/openapi.json  write the OpenAPI document and exit
"""

import argparse
import logging
import sys
from pathlib import Path

import structlog

import starter.api
from config.settings import Settings
from gateway.connection import describe_target
from starter.api.access_log import RedactTokens
from starter.api.app import create_app
from starter.api.deps import ApiConfigError
from starter.api.openapi import write_openapi

log = structlog.get_logger("api")


def main(argv: list[str] | None = None) -> int:
    description = (starter.api.__doc__ or "").split("\n\n")[0]
    parser = argparse.ArgumentParser(prog="python -m starter.api", description=description)
    parser.add_argument(
        "--write-openapi", metavar="PATH", type=Path, help="write the OpenAPI document and exit"
    )
    args = parser.parse_args(argv)
    if args.write_openapi:
        write_openapi(args.write_openapi)
        print(f"wrote {args.write_openapi}")
        return 0

    import uvicorn

    from config.logging import configure_logging

    settings = Settings()
    try:
        app = create_app(settings)
    except ApiConfigError as err:
        print(f"starter.api: cannot start: {err}", file=sys.stderr)
        return 2
    configure_logging(settings)
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(RedactTokens())
    log.info(
        "API starting",
        host=settings.api_host,
        port=settings.api_port,
        temporal=describe_target(settings),
        task_queue=settings.temporal_task_queue,
    )
    uvicorn.run(app, host=settings.api_host, port=settings.api_port, log_config=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
