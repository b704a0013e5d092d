"""`python -m bench run --size small|mid|large|xl` (see bench/README.md).

Subcommands:
  run           generate data, run every target and workload, write table/JSON/PNG
  generate      only (re)build a database: python -m bench generate mid [--reuse]
  profile       py-spy on okr-service under W1 load: python -m bench profile --size mid
  cpu           CPU time per read request, in process: python -m bench cpu --size mid
  chart         redraw a PNG from a results JSON: python -m bench chart bench/results/latest-mid.json
  client-check  raw client vs httpx against the floor (is the load generator the limit?)
  rig           3 API processes, 2 webhook workers, PgBouncer, a replica, Redis: checks
                writes, read-your-writes, deliveries, the global rate limit (bench/rig.py)
  scaling       W1 page 25 and W2 throughput through 1, 2 and 3 API processes
  explain       each read workload's SQL statements with their plans and timings
  memory        RSS by imported package, and peak RSS per worker under load
"""

from __future__ import annotations

import argparse
import asyncio
import sys


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--size", default="small", choices=["small", "mid", "large", "xl"])
    run.add_argument("--reuse", action="store_true", help="reuse an up-to-date database")
    run.add_argument("--only", nargs="*", help="targets by name or kind (svc, floor, pg)")
    run.add_argument("--duration", type=float, help="seconds measured per cell")
    run.add_argument("--warmup", type=float, help="seconds of warm-up per cell")
    run.add_argument("--workload", action="append", help='only these, e.g. --workload "W4 node"')
    g = sub.add_parser("generate")
    g.add_argument("size", choices=["small", "mid", "large", "xl"])
    g.add_argument("--reuse", action="store_true")
    sub.add_parser("profile", add_help=False)
    sub.add_parser("cpu", add_help=False)
    sub.add_parser("rig", add_help=False)
    sub.add_parser("scaling", add_help=False)
    sub.add_parser("explain", add_help=False)
    sub.add_parser("memory", add_help=False)
    ch = sub.add_parser("chart", help="redraw the PNG of a results JSON")
    ch.add_argument("json")
    c = sub.add_parser("client-check")
    c.add_argument("--size", default="small")
    args, rest = parser.parse_known_args()

    if args.command == "run":
        from bench import runner

        asyncio.run(
            runner.run(
                args.size,
                reuse=args.reuse,
                only=args.only,
                duration=args.duration,
                warmup=args.warmup,
                workload_keys=args.workload,
            )
        )
    elif args.command == "generate":
        from bench import generate

        asyncio.run(generate.generate(args.size, reuse=args.reuse))
    elif args.command == "profile":
        from bench import profile

        profile.main(rest)
    elif args.command == "cpu":
        from bench import cpu

        cpu.main(rest)
    elif args.command == "rig":
        from bench import rig

        rig.main(rest)
    elif args.command == "scaling":
        from bench import scaling

        scaling.main(rest)
    elif args.command == "explain":
        from bench import explain

        explain.main(rest)
    elif args.command == "memory":
        from bench import memory

        memory.main(rest)
    elif args.command == "chart":
        import json
        from pathlib import Path

        from bench import runner

        path = Path(args.json)
        runner.chart(json.loads(path.read_text()), path.with_suffix(".png"))
        print(f"wrote {path.with_suffix('.png')}")
    elif args.command == "client-check":
        from bench import clientcheck

        asyncio.run(clientcheck.check(args.size))
    else:  # pragma: no cover
        sys.exit(2)


if __name__ == "__main__":
    main()
