"""``python -m codec``: run the codec server (``CODEC_SERVER_BIND``, default 127.0.0.1:8081).

``python -m codec --new-key [ID]`` prints a fresh ``ID:BASE64KEY`` entry for ``PAYLOAD_CODEC_KEYS``
and exits (ID defaults to ``kYYYYMMDD``).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from pydantic import ValidationError


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--new-key"]:
        from codec.aes import KEY_ID_PATTERN, generate_key

        key_id = args[1] if len(args) > 1 else datetime.now(UTC).strftime("k%Y%m%d")
        if not KEY_ID_PATTERN.fullmatch(key_id):
            print("codec: error: key id must be 1-32 characters of A-Z a-z 0-9 _ -", file=sys.stderr)
            return 2
        print(f"{key_id}:{generate_key()}")
        return 0
    if args:
        print(__doc__, file=sys.stderr)
        return 2

    import uvicorn

    from codec.aes import CodecKeyError
    from codec.server import ConfigError, app_from_settings, split_bind
    from config.settings import Settings

    try:
        settings = Settings()
        app = app_from_settings(settings)
        host, port = split_bind(settings.codec_server_bind)
    except (ValidationError, ConfigError, CodecKeyError) as err:
        print(f"codec: error: {err}", file=sys.stderr)
        return 2
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower())
    return 0


if __name__ == "__main__":
    sys.exit(main())
