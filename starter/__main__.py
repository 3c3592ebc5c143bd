"""``python -m starter VERB ...``: the operations and sign-up command line (see starter.cli)."""

from starter.cli import main

if __name__ == "__main__":
    main()
