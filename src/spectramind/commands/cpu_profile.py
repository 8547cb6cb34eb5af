"""``spectramind cpu-profile``: the environment that emulates another CPU on this one."""

from __future__ import annotations

import argparse
import shlex
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cpu-profile",
        help="print the environment variables that emulate another CPU (for tests and repros)",
        description=(
            "Prints `export NAME=VALUE` lines that make numpy, torch, OpenBLAS, MKL, oneDNN and "
            "glibc's libm behave as on another x86-64 CPU, e.g. "
            '`eval "$(spectramind cpu-profile lower)" && pytest`. The profile\'s thread count '
            "is for `--config threads=N` (printed as a comment). Every spectramind command "
            "pins its kernels whatever these say (docs/reproducibility.md), so outputs must not "
            "change: that is what the profile tests."
        ),
    )
    parser.add_argument("profile", nargs="?", default="lower", help="profile name (lower)")
    parser.add_argument("--list", action="store_true", help="list the profiles and exit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spectramind.errors import ConfigError
    from spectramind.repro.cpu import PINNED_VARIABLES, PROFILES

    if args.list:
        for name, profile in PROFILES.items():
            env = " ".join(f"{k}={v}" for k, v in profile["env"].items()) or "(this machine)"
            sys.stdout.write(f"{name}: threads {profile['threads']}; {env}\n")
        pinned = " ".join(f"{k}={v}" for k, v in PINNED_VARIABLES.items())
        sys.stdout.write(f"pinned by every command: {pinned} (+ numpy AVX-512 targets off)\n")
        return 0
    if args.profile not in PROFILES:
        raise ConfigError(
            f"unknown CPU profile {args.profile!r}; known: {', '.join(sorted(PROFILES))}"
        )
    profile = PROFILES[args.profile]
    lines = [f"# CPU profile {args.profile}; run the workflow with --config "
             f"threads={profile['threads']}"]  # fmt: skip
    lines += [f"export {k}={shlex.quote(v)}" for k, v in profile["env"].items()]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
