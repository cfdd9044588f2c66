"""Command line ``sqnn``: one clear line on error, never a traceback."""

from __future__ import annotations

import argparse
import sys


class CLIError(Exception):
    """An error reported to the user as one line, exit status 2."""


def _kernel_demo(args) -> None:
    import numpy as np

    import sqnn_kernels as sk

    rng = np.random.default_rng(0)
    x = sk.pack_bits(rng.integers(0, 2, (4, 100)).astype(bool))
    w = sk.pack_bits(rng.integers(0, 2, (3, 100)).astype(bool))
    print("±1 dot products of 4 packed rows with 3 neurons (k = 100):")
    print(sk.xnor_popcount_dense(x, w, 100))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sqnn", description="Stochastically Quantized Neural Networks")
    sub = parser.add_subparsers(dest="command", metavar="{demo,train,export-fpga,bench}")
    demo = sub.add_parser("demo", help="train γ = 0 and γ > 0 SQNNs on the embedded data and compare them")
    demo.set_defaults(func=_kernel_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        args.func(args)
    except (CLIError, ValueError, TypeError, FileNotFoundError, OSError) as err:
        print(f"sqnn {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sqnn {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
