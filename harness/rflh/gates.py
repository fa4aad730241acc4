"""Quality gates that `make check` runs on the series: warnings in new
code, rustfmt, rustdoc, checkpatch, Rust symbols in vmlinux, uapi headers."""

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from . import kconfig
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


def rustdoc(s, tree, out, files):
    """`make rustdoc`: it must succeed, with no warning located in a series file
    (broken intra-doc links among them)."""
    logf = s.results() / "rustdoc.log"
    rc, text = run_cmd(s, f"make -C {tree} O={out} LLVM=1 rustdoc", logf)
    warns = [l for l in text.splitlines() if l.startswith(("warning", "error"))]
    if rc != 0:
        return Check("gate", "make rustdoc", "fail", f"exit {rc} (log: {logf})")
    mine = new_code_warnings(logf, files)
    if mine:
        return Check("gate", "make rustdoc", "fail", mine[0])
    return Check("gate", "make rustdoc", "ok", f"{len(warns)} warning lines, none in series files")


# Exceptions, each justified in the cover letter:
#  - UNKNOWN_COMMIT_ID: the tree is imported from Debian's source tarball,
#    without upstream history, so checkpatch cannot look cited commits up;
#  - FILE_PATH_CHANGES: new files are added before the last patch updates
#    MAINTAINERS (and rust/kernel/mm/ is already covered).
CHECKPATCH_IGNORE = ("UNKNOWN_COMMIT_ID", "FILE_PATH_CHANGES")
# One patch's own exception, also justified in the cover letter:
#  - AVOID_EXTERNS in "locking/rwsem: add down_read_nosteal()": every other
#    prototype of include/linux/rwsem.h is declared extern, and the new one
#    keeps the file's style.
# (The queue once needed YIELD for a polling wait in mmap_read_yield();
# down_read_nosteal() replaced the loop, and no patch may hide YIELD.)
CHECKPATCH_IGNORE_PATCH = {"locking-rwsem-add-down_read_nosteal": ("AVOID_EXTERNS",)}


def checkpatch_ignores(name):
    """The checkpatch types ignored for the patch file @name."""
    extra = [t for key, types in CHECKPATCH_IGNORE_PATCH.items() if key in name for t in types]
    return CHECKPATCH_IGNORE + tuple(extra)


def checkpatch(s, tree, patches):
    """checkpatch --strict on each series patch. Missing Signed-off-by is
    expected (the submitter adds it); CHECKPATCH_IGNORE, and
    CHECKPATCH_IGNORE_PATCH for its one patch, are the only other
    exceptions."""
    checks = []
    for p in patches:
        r = in_root(s, f"cd {tree} && scripts/checkpatch.pl --strict --no-signoff "
                    f"--ignore {','.join(checkpatch_ignores(p.name))} "
                    f"--terse --show-types {p}", check=False,
                    capture_output=True, text=True)
        found = [l for l in r.stdout.splitlines()
                 if re.search(r": (ERROR|WARNING|CHECK):", l)]
        checks.append(Check("gate", f"checkpatch --strict {p.name}",
                            "fail" if found else "ok",
                            "; ".join(f.split(": ", 1)[-1] for f in found[:3])))
    return checks


def _symbols(s, out):
    """(populate.o's defined symbols, madvise.o's symbols, vmlinux's symbols of
    interest, populate.o's rustc version) as text."""
    r = in_root(s, f"""
        test -f {out}/mm/populate.o && llvm-nm --defined-only {out}/mm/populate.o | grep -w rust_madvise_populate || true
        echo ---
        llvm-nm {out}/mm/madvise.o | grep -wE 'rust_madvise_populate|gup_faultin_range|mmap_read_yield' || true
        echo ---
        llvm-nm {out}/vmlinux | grep -E ' (rust_madvise_populate|madvise_populate|faultin_page_range|gup_faultin_range|mmap_read_yield)$|faultin_vma_page_range' || true
        echo ---
        test -f {out}/mm/populate.o && llvm-readelf -p .comment {out}/mm/populate.o 2>/dev/null | grep -o 'rustc version [0-9.]*' | head -1 || true
    """, capture_output=True, text=True)
    parts = r.stdout.split("---\n")
    parts += [""] * (4 - len(parts))
    return tuple(p.strip() for p in parts[:4])


def rust_symbols(s, out):
    """Prove that the Rust implementation is what runs."""
    checks = []
    pop_o, madv_o, vml, comment = _symbols(s, out)
    checks.append(Check("gate", "mm/populate.o (built by rustc) defines rust_madvise_populate",
                        "ok" if re.search(r"\bT rust_madvise_populate", pop_o) and "rustc" in comment
                        else "fail",
                        f"{comment or 'no rustc .comment'}; {pop_o or 'symbol missing'}"))
    checks.append(Check("gate", "mm/madvise.o calls rust_madvise_populate from outside",
                        "ok" if re.search(r"\bU rust_madvise_populate", madv_o) else "fail",
                        madv_o or "no undefined reference (Rust implementation not selected?)"))
    bad = [l for l in vml.splitlines() if l.endswith(" faultin_page_range")]
    has = re.search(r"\bT rust_madvise_populate\b", vml) and re.search(r"\bT mmap_read_yield\b", vml)
    checks.append(Check("gate", "vmlinux: Rust rust_madvise_populate and C mmap_read_yield, "
                        "no faultin_page_range",
                        "ok" if has and not bad else "fail", vml.replace("\n", "; ")[:200]))
    return checks


def c_symbols(s, out, config_text):
    """VARIANT=series-norust: prove that the C implementation is what runs."""
    pop_o, madv_o, vml, _ = _symbols(s, out)
    cfg = kconfig.parse(config_text)
    problems = []
    if cfg.get("CONFIG_RUST", "n") != "n" or cfg.get("CONFIG_MADVISE_POPULATE_RUST", "n") != "n":
        problems.append("CONFIG_RUST or CONFIG_MADVISE_POPULATE_RUST is set")
    if cfg.get("CONFIG_ADVISE_SYSCALLS") != "y":
        problems.append("CONFIG_ADVISE_SYSCALLS is not set")
    if pop_o or "rust_madvise_populate" in madv_o + vml:
        problems.append("a rust_madvise_populate symbol exists")
    for sym in ("gup_faultin_range", "mmap_read_yield"):
        if not re.search(rf"\bU {sym}\b", madv_o):
            problems.append(f"mm/madvise.o does not call {sym}")
    return [Check("gate", "without Rust: mm/madvise.o calls gup_faultin_range and "
                  "mmap_read_yield, no Rust symbol",
                  "fail" if problems else "ok",
                  "; ".join(problems) or madv_o.replace("\n", "; ")[:200])]


# --------------------------------------------------------------- compile_fail

CF_BLOCK = re.compile(r"^\s*//[/!]\s*```compile_fail(?:,(E\d{4}))?", re.M)
CF_RESULT = re.compile(r"^test (?P<file>\S+) - (?P<item>.+?) \(line (?P<line>\d+)\)"
                       r" - compile fail \.\.\. (?P<res>ok|FAILED)$")


def compile_fail_expected(tree, files):
    """(file, count) of the compile_fail examples in the series' Rust files."""
    out = []
    for f in files:
        if f.endswith(".rs") and (Path(tree) / f).exists():
            n = len(CF_BLOCK.findall((Path(tree) / f).read_text(errors="replace")))
            if n:
                out.append((f, n))
    return out


def compile_fail_results(build_log_text):
    """[(file, item, line, 'ok'|'FAILED')] from rustdoc's test output in a build log."""
    return [(m["file"], m["item"], int(m["line"]), m["res"])
            for m in map(CF_RESULT.match, build_log_text.splitlines()) if m]


def compile_fail_checks(tree, files, build_log_text):
    """One check per compile_fail example of the series (rustdoc ran them during the
    doctest generation of the build), plus one per file whose examples did not all run."""
    checks = []
    results = compile_fail_results(build_log_text)
    for f, n in compile_fail_expected(tree, files):
        mine = [r for r in results if r[0].endswith("/" + f) or r[0] == f]
        for _, item, line, res in mine:
            checks.append(Check("gate", f"compile_fail {f}:{line} ({item})",
                                "ok" if res == "ok" else "fail",
                                "" if res == "ok" else "it compiled, or failed without the "
                                "listed error code; see the build log"))
        if len(mine) != n:
            checks.append(Check("gate", f"compile_fail examples of {f} ran", "fail",
                                f"{n} in the source, {len(mine)} in rustdoc's output "
                                "(the doctests were not regenerated in this build?)"))
    return checks


# ------------------------------------------------------------------ no panic

FUNC = re.compile(r"^[0-9a-f]+ <(?P<name>.+)>:$")
RELOC = re.compile(r"\sR_[A-Z0-9_]+\s+(?P<sym>\S+?)(?:[+-]0x[0-9a-f]+)?$")
# Panic entry points: core::panicking::*, and the out-of-line failure paths
# of unwrap()/expect() and of slice and str indexing, which panic in turn.
PANIC = re.compile(r"panic|unwrap_failed|expect_failed|slice_\w*fail|str_index\w*fail"
                   r"|index_out_of_bounds|slice_error_fail", re.I)


def panic_references(objdump_text, skip=lambda fn: False):
    """{function: [panic symbols]} from `llvm-objdump -dr --demangle` output."""
    found, fn = {}, None
    for line in objdump_text.splitlines():
        m = FUNC.match(line)
        if m:
            fn = m["name"]
            continue
        m = RELOC.search(line)
        if m and fn and not skip(fn) and PANIC.search(m["sym"]):
            found.setdefault(fn, [])
            if m["sym"] not in found[fn]:
                found[fn].append(m["sym"])
    return found


def is_test_code(fn):
    return "::tests::" in fn or "kunit_rust_wrapper" in fn or "__kunit" in fn


# A function a diff adds: "+    pub(crate) const unsafe fn name" (doc examples,
# "+    /// fn f(", do not match).
ADDED_FN = re.compile(r"^\+\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:unsafe\s+)?"
                      r"(?:extern\s+\"C\"\s+)?fn\s+(?P<name>\w+)")


def added_kernel_fns(diff_text):
    """[(module path, fn name)] of the functions a diff adds under rust/kernel/."""
    out, module = [], None
    for line in diff_text.splitlines():
        if line.startswith("+++ "):
            path = line[4:].removeprefix("b/")
            module = None
            if path.startswith("rust/kernel/") and path.endswith(".rs"):
                parts = path[len("rust/"):-len(".rs")].split("/")
                if parts[-1] == "mod":
                    parts.pop()
                module = "::".join(parts) if parts != ["kernel", "lib"] else "kernel"
            continue
        m = ADDED_FN.match(line)
        if module and m and (module, m.group("name")) not in out:
            out.append((module, m.group("name")))
    return out


def is_fn(fn, module, name):
    """Whether a demangled function name is module's `name`, an instance or a closure of it."""
    return module + "::" in fn and re.search(r"::" + re.escape(name) + r"(?:$|[<:])", fn)


def is_added_fn(fn, added):
    """Whether a demangled function name is one of `added` (see is_fn)."""
    return any(is_fn(fn, module, name) for module, name in added)


def no_panic(s, out, tree_dir=None, objects=("mm/populate.o",)):
    """The series' Rust code must not reference a panic function. mm/populate.o is
    checked whole (its test module excepted). In rust/kernel.o, every function the
    series adds under rust/kernel/ (found in its diff) is checked where it has code;
    the generic and #[inline] ones have none there, and are compiled into their
    callers, the objects checked above."""
    checks = []
    seen = ""
    for obj in objects:
        r = in_root(s, f"llvm-objdump -dr --demangle {out}/{obj}", check=False,
                    capture_output=True, text=True)
        if r.returncode != 0:
            checks.append(Check("gate", f"no panic in {obj}", "fail", r.stderr.strip()[:200]))
            continue
        seen += r.stdout
        found = panic_references(r.stdout, is_test_code)
        nfn = sum(1 for l in r.stdout.splitlines() if FUNC.match(l))
        checks.append(Check("gate", f"no panic path in {obj} ({nfn} functions, tests excepted)",
                            "fail" if found else "ok",
                            "; ".join(f"{k} -> {', '.join(v)}" for k, v in list(found.items())[:3])))
    added = added_kernel_fns(git(tree_dir, "diff", f"{BASE_DONE}..HEAD", "--", "rust/kernel")) \
        if tree_dir else [("kernel::mm::faultin", "faultin_range")]
    r = in_root(s, f"llvm-objdump -dr --demangle {out}/rust/kernel.o", check=False,
                capture_output=True, text=True)
    if r.returncode != 0 or not added:
        return checks + [Check("gate", "no panic path in the series' functions of rust/kernel.o",
                               "fail", r.stderr.strip()[:200] if r.returncode
                               else "found no function the series adds under rust/kernel/")]
    text = r.stdout
    mine = panic_references(text, lambda fn: not is_added_fn(fn, added))
    present = {m.group("name") for m in map(FUNC.match, text.splitlines())
               if m and is_added_fn(m.group("name"), added)}
    with_code = [f"{mod}::{n}" for mod, n in added if any(is_fn(fn, mod, n) for fn in present)]
    without = [f"{mod}::{n}" for mod, n in added if f"{mod}::{n}" not in with_code]
    checks.append(Check("gate", f"no panic path in rust/kernel.o's code of the {len(added)} "
                        f"functions the series adds to the kernel crate ({len(present)} symbols: "
                        f"{', '.join(with_code) or 'none'})",
                        "fail" if mine else "ok",
                        "; ".join(f"{k} -> {', '.join(v)}" for k, v in list(mine.items())[:3])))
    if without:
        # Generic or #[inline]: compiled into the callers checked above, which
        # must then really use the binding.
        ok = "gup_faultin_range" in seen
        checks.append(Check("gate", f"{len(without)} have no code in rust/kernel.o (generic or "
                            f"#[inline], compiled into {', '.join(objects)}): "
                            f"{', '.join(without)}", "ok" if ok else "fail",
                            "" if ok else f"no call to gup_faultin_range in {', '.join(objects)}"))
    return checks


def module_exports(s, out, names=("faultin",)):
    """The kernel crate must export nothing of the faultin binding to modules."""
    f = Path(out) / "rust" / "exports_kernel_generated.h"
    if not f.exists():
        return [Check("gate", "rust/exports_kernel_generated.h exports no faultin symbol",
                      "fail", f"{f} is missing")]
    hits = [l for l in f.read_text().splitlines() if any(n in l for n in names)]
    return [Check("gate", "rust/exports_kernel_generated.h exports no faultin symbol "
                  "(modules cannot reach gup_faultin_range())",
                  "fail" if hits else "ok", "; ".join(hits[:2]))]


# ------------------------------------------------------------ get_maintainer

# Who must be reached: the M: lines of these entries.
MAINTAINER_ENTRIES = ("MEMORY MANAGEMENT - GUP (GET USER PAGES)",
                      "MEMORY MAPPING - MADVISE (MEMORY ADVICE)")
# mmap_read_yield() is mmap_lock API and down_read_nosteal() rwsem API: each
# patch that touches them must reach that lock's maintainers; the series as
# a whole reaches every entry.
LOCK_ENTRIES = (
    ("MEMORY MAPPING - LOCKING", r"(mm/mmap_lock\.c|include/linux/mmap_lock\.h)$", "mmap lock"),
    ("LOCKING PRIMITIVES", r"(kernel/locking/rwsem\.c|include/linux/rwsem\.h)$", "locking"),
)
LOCK_PATHS = "|".join(paths for _, paths, _ in LOCK_ENTRIES)


def entry_maintainers(maintainers_text, entry):
    block = ("\n" + maintainers_text).split("\n" + entry + "\n", 1)
    if len(block) != 2:
        return []
    lines = block[1].split("\n\n", 1)[0].splitlines()
    return [l[2:].strip() for l in lines if l.startswith("M:")]


# Patches that touch these must reach them themselves; the others (the doctest
# builder, the lock hand-over in rust/kernel/mm.rs) reach them through the
# series, which b4 sends to everyone get_maintainer.pl names for any patch.
MM_PATHS = r"(mm/|rust/kernel/mm/|include/uapi/asm-generic/mman|Documentation/mm/|tools/testing/selftests/mm/)"


def email(who):
    """The address in 'Name <addr>' (get_maintainer.pl quotes some names)."""
    m = re.search(r"<([^>]+)>", who)
    return (m.group(1) if m else who).strip().lower()


def maintainers_reached(get_maintainer_out):
    return [l.split(" (")[0].strip() for l in get_maintainer_out.splitlines() if "@" in l]


def get_maintainer(s, tree, patches):
    """get_maintainer.pl on each patch (in the final tree): report whom each reaches,
    and require the GUP and MADVISE maintainers on every patch that touches mm/ code or
    the mm Rust bindings, and on the series as a whole."""
    mtext = (Path(tree) / "MAINTAINERS").read_text()

    def of(entries):
        out = []
        for e in entries:
            for m in entry_maintainers(mtext, e):
                if m not in out:
                    out.append(m)
        return out

    need = of(MAINTAINER_ENTRIES)
    lock_need = [(paths, of([entry]), who) for entry, paths, who in LOCK_ENTRIES]
    checks, union = [], set()
    for p in patches:
        r = in_root(s, f"cd {tree} && scripts/get_maintainer.pl --no-git --no-git-fallback "
                    f"--no-rolestats --no-l {p}", check=False,
                    capture_output=True, text=True)
        got = maintainers_reached(r.stdout)
        union.update(email(g) for g in got)
        touched = re.findall(r"^\+\+\+ b/(\S+)", Path(p).read_text(errors="replace"), re.M)
        lock_code = [t for t in touched if re.search(LOCK_PATHS, t)]
        mm_code = [t for t in touched if re.match(MM_PATHS, t) and t not in lock_code]
        reached = {email(g) for g in got}
        wants = [(mm_code, need, "GUP and MADVISE")]
        wants += [([t for t in lock_code if re.search(paths, t)], want, who)
                  for paths, want, who in lock_need]
        for code, want, who in wants:
            if not code:
                continue
            missing = [m for m in want if email(m) not in reached]
            checks.append(Check("gate", f"get_maintainer {Path(p).name}: {who} "
                                "maintainers", "fail" if missing or not want else "ok",
                                ("missing " + ", ".join(missing)) if missing else
                                f"{len(got)} maintainers"))
    every = need + [m for _, want, _ in lock_need for m in want]
    missing = [m for m in every if email(m) not in union]
    checks.append(Check("gate", "get_maintainer: the series reaches every GUP, MADVISE, "
                        "mmap lock and locking maintainer",
                        "fail" if missing or not need or not all(w for _, w, _ in lock_need) else "ok",
                        ", ".join(missing) or f"{len(union)} maintainers in all"))
    return checks


# -------------------------------------------------------------------- sphinx

SPHINX_CONF = """project = "rfl-populate doc check"
extensions = []
master_doc = "index"
html_theme = "alabaster"
"""


def sphinx(s, tree, files):
    """Build each new Documentation/*.rst of the series on its own with Sphinx,
    warnings as errors (-W): a one-page project, so that only our page is judged."""
    checks = []
    docs = [f for f in files if f.startswith("Documentation/") and f.endswith(".rst")
            and not f.endswith("index.rst") and (Path(tree) / f).exists()]
    for doc in docs:
        with tempfile.TemporaryDirectory(dir=s.cache) as tmp:
            src = Path(tmp) / "src"
            src.mkdir()
            (src / "conf.py").write_text(SPHINX_CONF)
            (src / "index.rst").write_text((Path(tree) / doc).read_text())
            logf = s.results() / f"sphinx-{Path(doc).stem}.log"
            rc, text = run_cmd(s, f"sphinx-build -W --keep-going -q -b html {src} {tmp}/html", logf)
            html = Path(tmp) / "html" / "index.html"
            if rc == 0 and html.exists():
                keep = s.results() / f"{Path(doc).stem}.html"
                shutil.copyfile(html, keep)
        checks.append(Check("gate", f"sphinx-build -W {doc}", "ok" if rc == 0 else "fail",
                            "" if rc == 0 else (text.strip().splitlines() or [f"exit {rc}"])[0][:200]))
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
