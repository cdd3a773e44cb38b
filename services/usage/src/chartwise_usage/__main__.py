"""`python -m chartwise_usage` runs the service."""

from chartwise_runtime.serve import serve
from chartwise_usage.app import build_app
from chartwise_usage.settings import Settings


def main() -> None:
    serve(build_app, Settings())


if __name__ == "__main__":
    main()
