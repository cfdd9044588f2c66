"""Count the key instructions in the machine code numba generates for the dense and the engine kernels.

Usage::

    python -m benchmarks.asm [--words 16] [--dump DIR] [--cpu haswell]

Shows which popcount path LLVM chose for this CPU: ``vpopcntq`` (AVX-512 VPOPCNTDQ, 8 words per
instruction on zmm registers), the ``vpshufb`` nibble-lookup sequence (AVX2 / AVX-512BW without
VPOPCNTDQ) or scalar ``popcnt``. ``inspect_asm`` only works for freshly compiled code, not code loaded from
numba's on-disk cache, so this script points ``NUMBA_CACHE_DIR`` at a temporary folder before numba loads.
``--cpu NAME`` compiles for another LLVM CPU (``NUMBA_CPU_NAME``), e.g. ``haswell`` to see the AVX2 code.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

_CACHE = tempfile.mkdtemp(prefix="sqnn-asm-cache-")
os.environ["NUMBA_CACHE_DIR"] = _CACHE  # fresh compile: cached code has no assembly to inspect

import argparse  # noqa: E402
import shutil  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

KEY = ("vpopcntq", "vpopcntd", "popcnt", "vpshufb", "vbroadcasti128", "vpsadbw", "vpand", "vpsrlw", "vpxorq",
       "vpxord", "vpxor", "xor", "vpaddq", "vpaddd", "vpaddw", "vpaddb", "vpmovzxbw", "vpcmpgtb", "vpcmpgtw",
       "vpcmpnltw",
       "vpcmpgtq", "vpcmpleq", "kunpckdq", "vpmovmskb", "vcmpltpd", "vcmpnltpd", "vcmplepd", "vcmpgepd",
       "vcmpleps", "vpternlogq")
REGISTERS = ("zmm", "ymm", "xmm")
_INSN = re.compile(r"^\s+([a-z][a-z0-9]*)\s*(.*)$")


def count_instructions(asm: str) -> tuple[Counter, Counter]:
    """(mnemonic counts, vector register width counts) of an assembly listing."""
    mnemonics, regs = Counter(), Counter()
    for line in asm.splitlines():
        m = _INSN.match(line)
        if not m or line.lstrip().startswith("."):
            continue
        mnemonics[m.group(1)] += 1
        for r in REGISTERS:
            if f"%{r}" in m.group(2):
                regs[r] += 1
    return mnemonics, regs


def _builds(kernel) -> dict[str, object]:
    """The numba dispatchers behind a kernel: itself, or the serial and parallel builds of a dual kernel."""
    if hasattr(kernel, "inspect_asm"):
        return {"": kernel}
    return {f" [{name}]": getattr(kernel, name) for name in ("serial", "parallel") if hasattr(kernel, name)}


def _listings(name: str, kernel) -> dict[str, str]:
    """``{label: assembly}`` of every compiled build of ``kernel`` (builds never called are left out)."""
    out = {}
    for suffix, dispatcher in _builds(kernel).items():
        asm = "\n".join(dispatcher.inspect_asm().values())
        if asm:
            out[name + suffix] = asm
    return out


def _report(title: str, asm: str) -> dict:
    mnemonics, regs = count_instructions(asm)
    total = sum(mnemonics.values())
    print(f"\n{title}: {total} instructions")
    print("  " + "  ".join(f"{k}={mnemonics[k]}" for k in KEY if mnemonics[k]))
    print("  vector operands: " + "  ".join(f"{r}={regs[r]}" for r in REGISTERS))
    if mnemonics["vpopcntq"]:
        verdict = "AVX-512 VPOPCNTDQ: vpopcntq on " + ("zmm (8 words)" if regs["zmm"] else "ymm/xmm")
    elif mnemonics["vpshufb"] and mnemonics["vbroadcasti128"]:
        verdict = "table lookup (_lut): vbroadcasti128 row table, vpshufb + vpaddb per 32 neurons x 4 bits"
    elif mnemonics["vpshufb"]:
        verdict = "nibble-LUT popcount (vpshufb + vpsadbw), no VPOPCNTDQ"
    elif mnemonics["popcnt"]:
        verdict = "scalar popcnt (one word per instruction)"
    else:
        verdict = "no popcount instruction found"
    print(f"  popcount path: {verdict}")
    return {"instructions": total, **{k: mnemonics[k] for k in KEY}, **{r: regs[r] for r in REGISTERS}}


def dense_asm(words: int) -> dict[str, str]:
    """Compile the dense kernels for ``words`` words per row and return their assembly."""
    import sqnn_kernels as sk
    from sqnn_kernels import dense
    from sqnn_kernels.dense import _kernels

    rng = np.random.default_rng(0)
    k = 64 * words
    wp = sk.pack_bits(rng.integers(0, 2, (256, k)).astype(bool))
    for n in (4, 1024):  # a small and a large call: serial and parallel builds where the kernel has both
        xp = sk.pack_bits(rng.integers(0, 2, (n, k)).astype(bool))
        sk.xnor_popcount_dense(xp, wp, k)
        sk.binary_dense_threshold(xp, wp, k, np.zeros(len(wp), np.int32))
    dot, threshold = getattr(dense, "kernels_used", getattr(dense, "_kernels_for", _kernels))(words)
    return {**_listings(f"xnor_popcount_dense W={words}", dot),
            **_listings(f"binary_dense_threshold W={words}", threshold)}


def engine_asm(dtype: str = "float32", hidden: tuple[int, ...] = (64, 64)) -> dict[str, str]:
    """Compile the fused engine for a 45x8-hidden-1 network on ``dtype`` input; return its assembly."""
    import sqnn_kernels as sk
    from benchmarks.test_network import random_spec
    from sqnn_kernels import engine

    rng = np.random.default_rng(0)
    spec = random_spec(rng, 45, 8, hidden)
    for n in (300, 100_000):  # serial and parallel builds
        sk.predict_scores(spec, rng.standard_normal((n, 45)).astype(dtype))
    net = engine.compiled(spec)
    kernel = engine._kernel(net.lanes, net.edges64.shape[1], net.group, net.table.shape[1])
    block = next(c.cell_contents for c in kernel.serial.py_func.__closure__
                 if getattr(c.cell_contents, "__name__", "") == "block")
    name = f"engine 45x8-{'-'.join(map(str, hidden))}-1 {dtype}"
    return {**_listings(name, kernel), **_listings(name + " row block", block),
            **_listings(name + " later layers (shared by every shape)", engine._later_layers)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=16, help="words per row of the dense kernel (k = 64 w)")
    parser.add_argument("--dump", help="folder to write the full assembly listings to")
    parser.add_argument("--cpu", help="LLVM CPU name to compile for instead of the host (e.g. haswell)")
    args = parser.parse_args(argv)
    if args.cpu:
        if "numba" in sys.modules:
            parser.error("--cpu must be set before numba is imported; run as python -m benchmarks.asm")
        os.environ["NUMBA_CPU_NAME"] = args.cpu
        os.environ["NUMBA_CPU_FEATURES"] = ""

    from benchmarks.machine import cpu_info

    info = cpu_info()
    target = f"LLVM CPU {args.cpu}" if args.cpu else "host CPU"
    print(f"CPU: {info['cpu']} | SIMD: {info['simd']} | code for the {target} | NUMBA_CACHE_DIR={_CACHE}")
    listings = {**dense_asm(args.words), **engine_asm("float32")}
    if args.words <= 16:
        listings.update(dense_asm(64))  # 4096-bit rows
    for name, asm in listings.items():
        _report(name, asm)
        if args.dump:
            Path(args.dump).mkdir(parents=True, exist_ok=True)
            (Path(args.dump) / f"{name.replace(' ', '_')}.s").write_text(asm)
    shutil.rmtree(_CACHE, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
