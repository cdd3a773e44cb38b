"""`python -m chartwise_journal` runs the service."""

from chartwise_journal.app import build_app
from chartwise_journal.settings import Settings
from chartwise_runtime.serve import serve


def main() -> None:
    serve(build_app, Settings())


if __name__ == "__main__":
    main()
