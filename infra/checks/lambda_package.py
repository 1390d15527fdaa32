"""Checks what `sam build` made (scripts/package.sh): every function of the built template
has a `bootstrap` that is an executable 64-bit little-endian ELF for AArch64 (Lambda's
arm64, as infra/template.yaml asks), and prints each one's size. Prints the path of the
api function's `bootstrap` last, for the Lambda test to run.

    python infra/checks/lambda_package.py [.aws-sam/build] [--bootstrap FILE]

--bootstrap checks one file alone (how scripts/package.sh shows the check refusing a
file that is not one)."""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

import cfn

EM_AARCH64 = 183


def elf_problem(path: Path) -> str | None:
    """What makes this file not an arm64 Linux executable, or None."""
    if not path.is_file():
        return "missing"
    if not os.access(path, os.X_OK):
        return "not executable"
    with path.open("rb") as f:
        head = f.read(64)
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return "not an ELF file"
    if head[4] != 2:
        return "not a 64-bit ELF"
    if head[5] != 1:
        return "not little-endian"
    e_type, e_machine = struct.unpack_from("<HH", head, 16)
    if e_type not in (2, 3):  # ET_EXEC, or ET_DYN (a position-independent executable)
        return f"not an executable (e_type {e_type})"
    if e_machine != EM_AARCH64:
        return f"built for machine {e_machine}, not AArch64 ({EM_AARCH64})"
    return None


def main() -> int:
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "--bootstrap":
        problem = elf_problem(Path(args[1]))
        print(f"{args[1]}: {problem or 'an AArch64 ELF executable'}")
        return 1 if problem else 0
    build = Path(args[0] if args else ".aws-sam/build").resolve()
    template = cfn.load_template(build / "template.yaml")
    functions = {
        lid: r["Properties"]
        for lid, r in template["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function"
    }
    if not functions:
        print(f"no functions in {build / 'template.yaml'}", file=sys.stderr)
        return 1
    failed = False
    api = None
    for lid, props in sorted(functions.items()):
        boot = (build / props["CodeUri"] / "bootstrap").resolve()
        arch = props.get("Architectures") or template.get("Globals", {}).get("Function", {}).get("Architectures")
        problem = elf_problem(boot)
        if arch != ["arm64"]:
            problem = f"Architectures is {arch}, not [arm64]"
        if problem:
            failed = True
            print(f"{lid}: {boot}: {problem}", file=sys.stderr)
        else:
            size = boot.stat().st_size
            print(f"{lid}: {boot.relative_to(build.parent.parent)}: AArch64 ELF, {size} bytes ({size / 1e6:.1f} MB)", file=sys.stderr)
        if lid == "ApiFunction":
            api = boot
    if failed or api is None:
        return 1
    print(api)
    return 0


if __name__ == "__main__":
    sys.exit(main())
