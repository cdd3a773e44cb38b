"""`python -m chartwise_gateway` runs the service."""

from chartwise_gateway.app import build_app
from chartwise_gateway.settings import Settings
from chartwise_runtime.serve import serve


def main() -> None:
    serve(build_app, Settings())


if __name__ == "__main__":
    main()
