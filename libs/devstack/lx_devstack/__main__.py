"""`python -m lx_devstack run`: the whole system on http://127.0.0.1:8000 until Ctrl-C."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from lx_devstack.stack import Stack, StackConfig


def _banner(stack: Stack, seconds: float) -> str:
    cfg = stack.config
    pg = "embedded Postgres in " + str(cfg.data_dir / "postgres") if not cfg.database_url else "DATABASE_URL"
    kafka = f"embedded broker on {stack.bootstrap_servers}" if stack.broker else "KAFKA_BOOTSTRAP_SERVERS"
    return f"""
Labour Exchange is running (ready in {seconds:.1f} s).

  Web and API     {stack.gateway_url}/
  API docs        {stack.gateway_url}/api/docs
  Dev admin       {stack.admin_email} / {stack.admin_password}
                  (from BOOTSTRAP_ADMIN_EMAIL / BOOTSTRAP_ADMIN_PASSWORD, else generated once
                   and kept in {stack.secrets_dir / "bootstrap-admin.json"})
  Data            {pg}; {kafka}
  Service logs    {stack.logs_dir}/<service>.log
{_x_lines(stack)}
Press Ctrl-C to stop everything.
"""


def _x_lines(stack: Stack) -> str:
    fake = stack.fake_x_url
    if fake is None:
        return "  X               the real X API (TWITTER_X_CLIENT_ID is set)\n"
    demo = json.dumps(
        {"username": "jo_bloggs", "text": "Need someone to design leaflets in Withington this weekend #LabourExchange"}
    )
    return f"""  Fake X          {fake}  (a stand-in for X; dev credentials in libs/fakex/README.md)
                  sign in with X: any username on its consent page. Post a demo tweet that the
                  system picks up at its next poll:
                  curl -s -X POST {fake}/_fake/tweets -H 'content-type: application/json' -d '{demo}'
"""


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    stack = Stack(
        StackConfig.from_env(
            Path(args.data_dir).resolve(),
            gateway_port=args.port,
            log_to_console=args.console_logs,
        )
    )
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print("Starting Postgres, the broker and the services…", flush=True)
    try:
        stack.start()
    except Exception as exc:
        print(f"\nCould not start: {exc}", file=sys.stderr)
        return 1
    print(_banner(stack, time.monotonic() - started), flush=True)
    try:
        while not stopping:
            for name in stack.crashed():
                print(f"service {name} stopped unexpectedly; restarting it.\n{stack.log_tail(name, 10)}", flush=True)
                stack.start_service(name, wait=False)
            time.sleep(0.5)
    finally:
        print("\nStopping…", flush=True)
        stack.stop()
        print("Stopped.", flush=True)
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="lx-stack")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="start everything and wait for Ctrl-C")
    r.add_argument("--data-dir", default=".data/run")
    r.add_argument("--port", type=int, default=8000)
    r.add_argument("--console-logs", action="store_true", help="print service logs here, not to files")
    args = parser.parse_args(argv)
    sys.exit(run(args))


if __name__ == "__main__":
    main()
