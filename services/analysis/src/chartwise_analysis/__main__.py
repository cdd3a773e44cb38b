"""`python -m chartwise_analysis` runs the service."""

from chartwise_analysis.app import build_app
from chartwise_analysis.settings import Settings
from chartwise_runtime.serve import serve


def main() -> None:
    serve(build_app, Settings())


if __name__ == "__main__":
    main()
