"""`python -m lx_fakex --host 127.0.0.1 --port 8190`: the fake X API for development."""

from __future__ import annotations

import argparse

import uvicorn

from lx_fakex.app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="lx-fakex", description="A fake X API v2 for development and tests")
    parser.add_argument("--host", default="127.0.0.1", help="loopback only: the fake has no real security")
    parser.add_argument("--port", type=int, default=8190)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
