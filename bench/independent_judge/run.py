#!/usr/bin/env python3
"""Blind judge for tryon-suite's run verdict.

    python bench/independent_judge/run.py [--tree REPO] [--only V01,V02] [--out DIR]
                                          [--table FILE]

For each variant: snapshot the suite tree (once, so nothing is written under it), start
server.py on a free loopback port, run the README's live command against it, watch it for at
most 6 minutes, then record exit code, wall time, report, verdict, key leaks. Prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIMIT = 360.0  # seconds per variant

RUN_KEY = "CANARYKEY-7f3a9c1e5b2d8046a1"
OTHER_KEY = "CANARYKEY-e94b07d2c61f3a58b7"
NOCRED_KEY = "CANARYNOCRED-3c8e1a6f0b9d2754"
KEYS = (RUN_KEY, OTHER_KEY, NOCRED_KEY)

# opaque id -> (server variant, expected verdict, runner action)
PLAN: dict[str, tuple[str, str, dict]] = {
    "V01": ("result_truncated", "FAIL", {}),
    "V02": ("alt_readings_b", "PASS", {}),
    "V03": ("die_after_requests", "INCOMPLETE", {}),
    "V04": ("errors_text_plain", "FAIL", {}),
    "V05": ("correct", "PASS", {}),
    "V06": ("interrupted", "INCOMPLETE", {"sigint_after_requests": 50}),
    "V07": ("key_echo", "FAIL", {}),
    "V08": ("hang_after_requests", "INCOMPLETE", {}),
    "V09": ("min_resolution_unenforced", "FAIL", {}),
    "V10": ("budget_runs_out", "INCOMPLETE", {"budget": 40}),
    "V11": ("result_url_refused", "FAIL", {}),
    "V12": ("alt_readings_a", "PASS", {}),
    "V13": ("sync_answer_cut_short", "FAIL", {}),
}
EXPECTED_CODE = {"PASS": 0, "FAIL": 1, "INCOMPLETE": 2}
CODE_NAME = {0: "PASS", 1: "FAIL", 2: "INCOMPLETE", 4: "USAGE"}


def snapshot(tree: Path, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    ignore = shutil.ignore_patterns(
        ".git", "reports", ".hypothesis", ".pytest_cache", "__pycache__", "*.pyc", ".venv",
        ".mypy_cache", ".ruff_cache", "node_modules",
    )
    shutil.copytree(tree, dest, ignore=ignore, symlinks=True)
    (dest / "reports").mkdir(exist_ok=True)


def read_status(p: Path) -> dict:
    try:
        return json.loads(p.read_text())
    except Exception:
        return {}


def stop_group(proc: subprocess.Popen, grace: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    t0 = time.time()
    while proc.poll() is None and time.time() - t0 < grace:
        time.sleep(0.1)
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def leak_scan(paths: list[Path]) -> list[str]:
    needles = []
    for k in KEYS:
        needles.append((k.encode(), f"full key {k[:4]}…"))
        needles.append(((k[:4] + "****").encode(), f"{k[:4]}****"))
        needles.append((k[-12:].encode(), f"tail of {k[:4]}…"))
    found = []
    files: list[Path] = []
    for p in paths:
        if p.is_file():
            files.append(p)
        elif p.is_dir():
            files.extend(q for q in p.rglob("*") if q.is_file())
    for f in files:
        data = f.read_bytes()
        if f.suffix == ".gz":
            import gzip

            try:
                data += gzip.decompress(data)
            except Exception:
                pass
        for n, label in needles:
            if n in data:
                found.append(f"{f.name}: {label}")
    return sorted(set(found))


def verdict_from_json(p: Path) -> str:
    try:
        d = json.loads(p.read_text())
    except Exception as e:
        return f"unreadable ({type(e).__name__})"
    if not isinstance(d, dict):
        return "?"
    for k in ("verdict", "headline", "run_verdict", "outcome"):
        v = d.get(k)
        if v is not None:
            if isinstance(v, dict):
                v = v.get("verdict") or v.get("status") or json.dumps(v)[:80]
            return str(v)[:80]
    for sub in ("run", "summary", "meta", "header"):
        v = d.get(sub)
        if isinstance(v, dict):
            for k in ("verdict", "headline", "outcome"):
                if v.get(k) is not None:
                    return str(v[k])[:80]
    return "(no verdict field)"


def last_line(p: Path) -> str:
    try:
        lines = [ln for ln in p.read_text(errors="replace").splitlines() if ln.strip()]
    except Exception:
        return ""
    return lines[-1][:160] if lines else ""


def run_one(vid: str, tree: Path, out_root: Path) -> dict:
    variant, expected, action = PLAN[vid]
    out = out_root / vid
    if out.exists():
        shutil.rmtree(out)
    (out / "server").mkdir(parents=True)
    port_file = out / "server" / "port"
    status_file = out / "server" / "status.json"
    srv_log = open(out / "server" / "server.log", "wb")
    srv = subprocess.Popen(
        [sys.executable, str(HERE / "server.py"), "--variant", variant,
         "--port-file", str(port_file), "--status-file", str(status_file),
         "--key", f"{RUN_KEY}:100000", "--key", f"{OTHER_KEY}:100000",
         "--key", f"{NOCRED_KEY}:0", "--max-seconds", str(LIMIT + 120)],
        stdout=srv_log, stderr=subprocess.STDOUT, start_new_session=True, cwd=str(HERE),
    )
    for _ in range(300):
        if port_file.exists() or srv.poll() is not None:
            break
        time.sleep(0.1)
    if not port_file.exists():
        stop_group(srv)
        return {"vid": vid, "expected": expected, "code": None, "secs": 0, "report": False,
                "verdict": "server did not start", "leaks": [], "hung": False,
                "after_fault": None, "last": ""}
    url = f"http://127.0.0.1:{port_file.read_text().strip()}"
    cmd = [sys.executable, "-m", "pytest", "contract", "--tryon-base-url", url,
           "--tryon-api-key", RUN_KEY, "--tryon-other-key", OTHER_KEY,
           "--tryon-no-credits-key", NOCRED_KEY, "--tryon-allow-burst",
           "--tryon-report-dir", str(out / "reports")]
    if "budget" in action:
        cmd += ["--tryon-budget", str(action["budget"])]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYON_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    stdout = open(out / "stdout.txt", "wb")
    stderr = open(out / "stderr.txt", "wb")
    t0 = time.time()
    suite = subprocess.Popen(cmd, cwd=str(tree), env=env, stdout=stdout, stderr=stderr,
                             stdin=subprocess.DEVNULL, start_new_session=True)
    fault_at = None
    hung = False
    interrupted_at = None
    while True:
        if suite.poll() is not None:
            break
        now = time.time()
        if now - t0 > LIMIT:
            hung = True
            stop_group(suite)
            break
        st = read_status(status_file)
        if fault_at is None:
            if srv.poll() is not None:
                fault_at = st.get("died_at") or now
            elif st.get("hung_at"):
                fault_at = st["hung_at"]
        n = action.get("sigint_after_requests")
        if n and interrupted_at is None and st.get("count", 0) >= n:
            os.killpg(suite.pid, signal.SIGINT)  # as Ctrl-C would
            interrupted_at = fault_at = now
        time.sleep(0.25)
    end = time.time()
    code = suite.returncode if not hung else None
    stdout.close()
    stderr.close()
    if fault_at is None and srv.poll() is not None:
        fault_at = read_status(status_file).get("died_at")
    stop_group(srv)
    srv_log.close()
    rep = out / "reports"
    has_report = (rep / "compliance.json").exists() and (rep / "compliance.html").exists()
    verdict = verdict_from_json(rep / "compliance.json") if (rep / "compliance.json").exists() \
        else "-"
    leaks = leak_scan([out / "stdout.txt", out / "stderr.txt", rep])
    res = {
        "vid": vid, "expected": expected, "code": code, "secs": round(end - t0, 1),
        "report": has_report, "verdict": verdict, "leaks": leaks, "hung": hung,
        "after_fault": round(end - fault_at, 1) if fault_at else None,
        "last": last_line(out / "stdout.txt"),
        "requests_seen": read_status(status_file).get("count"),
    }
    (out / "result.json").write_text(json.dumps(res, indent=1))
    return res


def said(text: str, exact: bool = False) -> str:
    """The verdict word a text states, if any. exact: only the upper-case words PASS, FAIL,
    INCOMPLETE (a console line; pytest's "76 passed" is not a verdict)."""
    t = text or ""
    for w in ("INCOMPLETE", "FAIL", "PASS"):
        if re.search(r"\b" + w + r"\b", t if exact else t.upper()):
            return w
    return "-"


def judge(r: dict) -> tuple[bool, bool]:
    """(loose, strict). loose: exit code as expected, not hung, no key leaked. strict: also a
    report whose verdict is the expected one, the console's last line saying it, and, when the
    runner saw a fault (death, hang, interrupt), an end within 60 s of it."""
    loose = (not r["hung"] and r["code"] == EXPECTED_CODE[r["expected"]] and not r["leaks"])
    strict = (
        loose and r["report"] and said(r["verdict"]) == r["expected"]
        and said(r["last"], exact=True) == r["expected"]
        and (r["after_fault"] is None or r["after_fault"] <= 60)
    )
    return loose, strict


def table(results: list[dict]) -> str:
    hdr = (f"{'id':<4} {'expected':<10} {'got (exit)':<14} {'match':<5} {'strict':<6} "
           f"{'secs':>5} {'after fault':>11} {'report':<6} {'report says':<11} "
           f"{'console says':<12} {'key leaked':<10}")
    lines = [hdr, "-" * len(hdr)]
    n_loose = n_strict = 0
    for r in results:
        if r["hung"]:
            got = "hung (killed)"
        elif r["code"] is None:
            got = "n/a"
        else:
            got = f"{r['code']} {CODE_NAME.get(r['code'], '?')}"
        loose, strict = judge(r)
        n_loose += loose
        n_strict += strict
        af = "" if r["after_fault"] is None else f"{r['after_fault']:.0f} s"
        lines.append(
            f"{r['vid']:<4} {r['expected']:<10} {got:<14} {'yes' if loose else 'NO':<5} "
            f"{'yes' if strict else 'NO':<6} {r['secs']:>5.0f} {af:>11} "
            f"{'yes' if r['report'] else 'no':<6} {said(r['verdict']) if r['report'] else '-':<11} "
            f"{said(r['last'], exact=True):<12} {'YES' if r['leaks'] else 'no':<10}"
        )
    lines.append("")
    lines.append(f"matched: {n_loose}/{len(results)} (exit code as expected, not hung, no key "
                 "leaked)")
    lines.append(f"strict:  {n_strict}/{len(results)} (also: report present and its verdict as "
                 "expected, console's last line says it, ended <= 60 s after a fault)")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tree", default=str(HERE.parent.parent))
    ap.add_argument("--out", default=str(HERE / "out"))
    ap.add_argument("--only", default="")
    ap.add_argument("--table", default="")
    ap.add_argument("--retable", action="store_true", help="only re-print from result.json")
    a = ap.parse_args()
    if a.retable:
        rs = [json.loads((Path(a.out) / v / "result.json").read_text()) for v in PLAN
              if (Path(a.out) / v / "result.json").exists()]
        print(table(rs))
        return
    out_root = Path(a.out)
    out_root.mkdir(parents=True, exist_ok=True)
    tree = out_root / "_tree"
    snapshot(Path(a.tree), tree)
    ids = [v for v in a.only.split(",") if v] or list(PLAN)
    t_all = time.time()
    results = []
    for vid in ids:
        r = run_one(vid, tree, out_root)
        results.append(r)
        print(f"{vid}: code={r['code']} secs={r['secs']} report={r['report']} "
              f"leaks={len(r['leaks'])} hung={r['hung']}", flush=True)
    txt = table(results)
    txt += f"\nwhole judge: {time.time() - t_all:.0f} s wall; tree {a.tree}\n"
    print(txt)
    if a.table:
        Path(a.table).write_text(txt)


if __name__ == "__main__":
    main()
