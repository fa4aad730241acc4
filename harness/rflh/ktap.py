"""A small KTAP/TAP parser for kselftest output.

run_kselftest.sh nests output by prefixing each level with '# ' (runner.sh,
then run_vmtests.sh), rather than by KTAP v1's four-space indentation, so
kunit.py parse does not follow it. This parser reads both: each leading
'# ' or four spaces is one level. Result lines at depth d+1 that precede a
result at depth d are its subtests.
"""

import re
from dataclasses import dataclass, field

RESULT = re.compile(
    r"^(?P<not>not )?ok(?: (?P<num>\d+))?(?: -)?(?: (?P<desc>[^#]*?))?\s*"
    r"(?:#\s*(?P<directive>\S+)(?:\s+(?P<reason>.*))?)?$")
PLAN = re.compile(r"^1\.\.(\d+)")


@dataclass
class Case:
    name: str
    status: str               # "ok", "fail", "skip"
    reason: str = ""
    children: list = field(default_factory=list)
    plan: int = None

    def leaves(self, prefix=""):
        """(path, Case) for every leaf below this one."""
        path = f"{prefix}{self.name}"
        if not self.children:
            yield path, self
            return
        for c in self.children:
            yield from c.leaves(path + ": ")


def split_depth(line):
    depth = 0
    while True:
        if line.startswith("# "):
            line = line[2:]
        elif line == "#":
            line = ""
        elif line.startswith("    "):
            line = line[4:]
        else:
            return depth, line
        depth += 1


def parse_result(text):
    m = RESULT.match(text.rstrip())
    if not m:
        return None
    directive = m.group("directive") or ""
    d = directive.upper()
    if d == "SKIP":
        status = "skip"
    elif m.group("not"):
        status = "fail"
    else:
        status = "ok"
    if d == "TODO" and status == "fail":
        status = "skip"
    name = (m.group("desc") or "").strip() or f"test {m.group('num')}"
    reason = (m.group("reason") or "").strip()
    if d not in ("", "SKIP", "TODO") and not reason:
        reason = directive  # e.g. "not ok 3 foo # exit=1"
    return Case(name=name, status=status, reason=reason)


def parse(text):
    """Parse TAP text; return the list of top-level Cases.

    Results at depth d collect, as children, the results at depth d+1 seen
    since the previous result at depth d.
    """
    pending = {}   # depth -> list of Cases waiting for a parent
    plans = {}
    top = []
    for raw in text.splitlines():
        depth, line = split_depth(raw.rstrip("\r"))
        pm = PLAN.match(line)
        if pm:
            plans[depth] = int(pm.group(1))
            continue
        case = parse_result(line)
        if not case:
            continue
        case.children = pending.pop(depth + 1, [])
        if depth + 1 in plans:
            case.plan = plans.pop(depth + 1)
        # Anything deeper that never got a parent is dropped into this one.
        for d in sorted(k for k in pending if k > depth + 1):
            case.children.extend(pending.pop(d))
        if depth == 0:
            top.append(case)
        else:
            pending.setdefault(depth, []).append(case)
    return top


def find(cases, name):
    """Depth-first search for a Case whose name contains `name`."""
    for c in cases:
        if name in c.name:
            return c
        hit = find(c.children, name)
        if hit:
            return hit
    return None
