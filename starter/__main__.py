"""``python -m starter VERB ...``: the operations and sign-up command line, installed as ``carm``."""

from starter.cli import main

if __name__ == "__main__":
    main()
