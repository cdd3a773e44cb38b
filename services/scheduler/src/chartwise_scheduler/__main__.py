"""`python -m chartwise_scheduler` runs the service."""

from chartwise_runtime.serve import serve
from chartwise_scheduler.app import build_app
from chartwise_scheduler.settings import Settings


def main() -> None:
    serve(build_app, Settings())


if __name__ == "__main__":
    main()
