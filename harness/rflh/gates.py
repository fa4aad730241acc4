"""Quality gates that `make check` runs on the series: warnings in new
code, rustfmt, rustdoc, checkpatch, Rust symbols in vmlinux, uapi headers."""

import re
import subprocess
import tempfile
from pathlib import Path

from .tree import BASE_DONE, git
from .util import in_root, log, stage
from .verdict import Check

WARN_C = re.compile(r"^(?P<path>\S+?):\d+:\d+: (?:warning|error):")
WARN_RS = re.compile(r"^\s*--> (?P<path>\S+?):\d+:\d+")


def series_files(tree):
    """Files the series (after the base section) adds or changes."""
    out = git(tree, "diff", "--name-only", f"{BASE_DONE}..HEAD")
    return [l for l in out.splitlines() if l]


def new_code_warnings(build_log, files):
    """Warnings (C or Rust/clippy) whose location is one of `files`."""
    hits = []
    lines = Path(build_log).read_text(errors="replace").splitlines()
    for i, l in enumerate(lines):
        m = WARN_C.match(l) or WARN_RS.match(l)
        if not m:
            continue
        path = m.group("path")
        if any(path == f or path.endswith("/" + f) for f in files):
            head = l
            if WARN_RS.match(l):
                # The message is on a line above the --> location.
                for j in range(i - 1, max(i - 4, -1), -1):
                    if re.match(r"^(warning|error)", lines[j]):
                        head = lines[j] + " " + l.strip()
                        break
            hits.append(head.strip())
    return hits


def run_cmd(s, script, logf):
    with open(logf, "w") as f:
        r = in_root(s, script, check=False, stdout=f, stderr=subprocess.STDOUT)
    return r.returncode, Path(logf).read_text(errors="replace")


def rustfmt(s, tree, out, files):
    rs = [f for f in files if f.endswith(".rs")]
    logf = s.results() / "rustfmtcheck.log"
    rc, text = run_cmd(s, f"make -C {tree} O={out} LLVM=1 rustfmtcheck", logf)
    if rc == 0:
        return Check("gate", "make rustfmtcheck", "ok", f"{len(rs)} series .rs files")
    ours = [l for l in text.splitlines() if any(f in l for f in rs)]
    return Check("gate", "make rustfmtcheck", "fail",
                 (ours[0] if ours else text.strip().splitlines()[-1]) + f" (log: {logf})")


def rustdoc(s, tree, out):
    logf = s.results() / "rustdoc.log"
    rc, text = run_cmd(s, f"make -C {tree} O={out} LLVM=1 rustdoc", logf)
    warns = [l for l in text.splitlines() if l.startswith(("warning", "error"))]
    if rc != 0:
        return Check("gate", "make rustdoc", "fail", f"exit {rc} (log: {logf})")
    mine = [w for w in warns if "gup" in w or "populate" in w]
    if mine:
        return Check("gate", "make rustdoc", "fail", mine[0])
    return Check("gate", "make rustdoc", "ok", f"{len(warns)} upstream warning lines")


# Exceptions, each justified in the cover letter:
#  - UNKNOWN_COMMIT_ID: the tree is imported from Debian's source tarball,
#    without upstream history, so checkpatch cannot look cited commits up;
#  - FILE_PATH_CHANGES: new files are added before the last patch updates
#    MAINTAINERS (and rust/kernel/mm/ is already covered).
CHECKPATCH_IGNORE = ("UNKNOWN_COMMIT_ID", "FILE_PATH_CHANGES")


def checkpatch(s, tree, patches):
    """checkpatch --strict on each series patch. Missing Signed-off-by is
    expected (the submitter adds it); CHECKPATCH_IGNORE are the only other
    exceptions."""
    checks = []
    for p in patches:
        r = in_root(s, f"cd {tree} && scripts/checkpatch.pl --strict --no-signoff "
                    f"--ignore {','.join(CHECKPATCH_IGNORE)} "
                    f"--terse --show-types {p}", check=False,
                    capture_output=True, text=True)
        found = [l for l in r.stdout.splitlines()
                 if re.search(r": (ERROR|WARNING|CHECK):", l)]
        checks.append(Check("gate", f"checkpatch --strict {p.name}",
                            "fail" if found else "ok",
                            "; ".join(f.split(": ", 1)[-1] for f in found[:3])))
    return checks


def rust_symbols(s, out):
    """Prove that the Rust implementation is what runs."""
    checks = []
    r = in_root(s, f"""
        llvm-nm --defined-only {out}/mm/populate.o | grep -w madvise_populate || true
        echo ---
        llvm-nm {out}/mm/madvise.o | grep -w madvise_populate || true
        echo ---
        llvm-nm {out}/vmlinux | grep -E ' (madvise_populate|faultin_page_range|faultin_vma_page_range)$|faultin_vma_page_range' || true
        echo ---
        llvm-readelf -p .comment {out}/mm/populate.o 2>/dev/null | grep -o 'rustc version [0-9.]*' | head -1 || true
    """, capture_output=True, text=True)
    parts = r.stdout.split("---\n")
    parts += [""] * (4 - len(parts))
    pop_o, madv_o, vml, comment = (p.strip() for p in parts[:4])
    checks.append(Check("gate", "mm/populate.o (built by rustc) defines madvise_populate",
                        "ok" if re.search(r"\bT madvise_populate", pop_o) and "rustc" in comment else "fail",
                        f"{comment or 'no rustc .comment'}; {pop_o or 'symbol missing'}"))
    checks.append(Check("gate", "mm/madvise.o calls madvise_populate from outside",
                        "ok" if re.search(r"\bU madvise_populate", madv_o) else "fail",
                        madv_o or "no undefined reference (C implementation back?)"))
    bad = [l for l in vml.splitlines() if l.endswith(" faultin_page_range")]
    has = re.search(r"\bT madvise_populate\b", vml)
    checks.append(Check("gate", "vmlinux: Rust madvise_populate, no C faultin_page_range",
                        "ok" if has and not bad else "fail", vml.replace("\n", "; ")[:200]))
    return checks


UAPI_ARCHES = ("alpha", "mips", "parisc", "xtensa", "x86")


def uapi_headers(s, tree):
    """headers_install for the arches with their own mman.h (and x86, for
    asm-generic); no cross compiler needed."""
    checks = []
    with tempfile.TemporaryDirectory(dir=s.cache) as tmp:
        for arch in UAPI_ARCHES:
            o = Path(tmp) / arch
            r = in_root(s, f"make -s -C {tree} O={o} ARCH={arch} headers_install "
                        f"INSTALL_HDR_PATH={o}/hdr >/dev/null 2>&1 && "
                        f"cat {o}/hdr/include/asm/mman.h {o}/hdr/include/asm-generic/mman-common.h 2>/dev/null",
                        check=False, capture_output=True, text=True)
            text = r.stdout
            rd = re.search(r"#define MADV_POPULATE_READ\s+(\d+)", text)
            wr = re.search(r"#define MADV_POPULATE_WRITE\s+(\d+)", text)
            ok = r.returncode == 0 and rd and wr and rd.group(1) == "22" and wr.group(1) == "23"
            checks.append(Check("gate", f"uapi headers_install ARCH={arch}: POPULATE_READ 22, WRITE 23",
                                "ok" if ok else "fail",
                                "" if ok else f"exit {r.returncode}, READ={rd and rd.group(1)} WRITE={wr and wr.group(1)}"))
    return checks
