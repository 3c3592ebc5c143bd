"""What a verb runs with: the settings, the output streams, a Temporal client and a rich console."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from rich.console import Console
from temporalio.client import Client

from config.settings import Settings
from gateway.connection import connect, describe_target
from starter.cli.errors import CliError


def isatty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a stream without a terminal, or closed
        return False


def console_for(stream: IO[str]) -> Console:
    """A console that prints text as given: no markup, highlighting or emoji in sellers' values."""
    tty = isatty(stream)
    return Console(
        file=stream,
        # A fixed width off a terminal, so piped and captured output does not depend on $COLUMNS.
        width=None if tty else 160,
        markup=False,
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )


@dataclass
class Context:
    settings: Settings
    out: IO[str]
    err: IO[str]
    _client: Client | None = None
    console: Console = field(init=False)

    def __post_init__(self) -> None:
        self.console = console_for(self.out)

    async def client(self) -> Client:
        """The client given to ``run``, else one connected on first use (offline verbs never do)."""
        if self._client is None:
            from codec.aes import CodecKeyError  # cryptography is loaded only by verbs that connect

            try:
                self._client = await connect(self.settings)
            except CodecKeyError as err:
                raise CliError(f"PAYLOAD_CODEC_KEYS: {err}") from None
            except RuntimeError as err:
                raise CliError(
                    f"cannot connect to Temporal at {describe_target(self.settings)}: {err}"
                ) from None
        return self._client

    def show(self, draw: Callable[..., None], *args: Any) -> None:
        """Render with rich, without the padding rich leaves at the ends of lines."""
        with self.console.capture() as capture:
            draw(self.console, *args)
        for line in capture.get().splitlines():
            self.out.write(line.rstrip() + "\n")

    def line(self, text: str) -> None:
        self.out.write(text + "\n")

    def json(self, data: Any) -> None:
        self.out.write(json.dumps(data, indent=2, default=str) + "\n")
