"""The installed ``carm`` program, run as a user runs it: a process of its own."""

import subprocess
from importlib.metadata import version

from testing.servers import binary


def carm(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary("carm"), *argv], capture_output=True, text=True, timeout=60)


def test_carm_is_installed_and_prints_its_version() -> None:
    done = carm("--version")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"carm {version('carm-returns')}\n"


def test_carm_help_lists_the_verbs_and_the_exit_codes() -> None:
    done = carm("--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: carm ")
    for verb in ("sign-up", "event", "status", "parcel", "checklist-link", "import"):
        assert verb in done.stdout
    assert "4 no such seller or parcel" in " ".join(done.stdout.split())
