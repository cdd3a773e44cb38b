"""Starts the nx-27017 MongoDB wire server with neosqlite's fallback query path switched on.

nx-27017's default path translates queries to SQL and mishandles datetimes and booleans in `$set` and
date ranges in `$match`; the fallback path evaluates them in Python and gets them right. The switch is a
process-wide flag, so it must be set in the server's own process before the server starts.
"""

from __future__ import annotations

import sys

from neosqlite.collection.query_helper import utils as query_utils
from nx_27017 import nx_27017


def main(argv: list[str] | None = None) -> None:
    query_utils.set_force_fallback(True)
    sys.argv = ["nx-27017", *(sys.argv[1:] if argv is None else argv)]
    nx_27017.main()


if __name__ == "__main__":
    main()
