"""``python -m lexigram_nosql``: the ``lexigram-nosql`` command."""

import sys

from lexigram_nosql.cli import main

if __name__ == "__main__":
    sys.exit(main())
