#!/usr/bin/env python3
"""Judge 2 runner: every variant of server.py against the suite at /work/main's git HEAD.

    python bench/independent_judge2/run.py [--only W01,W07] [--out DIR]

The id -> variant -> expected mapping is read from FAULTS.md (rows starting "| W").
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV_PY = os.environ.get("JUDGE_PYTHON", sys.executable)
MAIN = str(Path(__file__).resolve().parents[2])
WALL = 360.0

# how each variant is run (server variant, keys, judge-side action)
SPECS = {
    "correct": {},
    "slowpoll": {"server": "slowpoll", "fault": True},
    "result_hang": {"server": "result_hang", "fault": True},
    "nonjson": {"server": "nonjson", "fault": True},
    "mp_reset": {"server": "mp_reset", "fault": True},
    "kill_restart": {"server": "kill_restart", "action": "kill_restart", "fault": True},
    "stall": {"server": "stall", "fault": True},
    "all_503": {"server": "all_503", "fault": True},
    "wire1": {"server": "wire1"},
    "wire2": {"server": "wire2"},
    "readings": {"server": "readings"},
    "credits_hang": {"server": "credits_hang", "fault": True},
    "trickle": {"server": "trickle", "fault": True},
    "short_keys": {"keys": "short"},
    "sigterm": {"action": "sigterm", "fault": True},
    "crlf_key": {"keys": "crlf"},
}
EXIT_NAME = {0: "pass", 1: "fail", 2: "incomplete", 4: "usage"}
ANSI = re.compile(rb"\x1b\[[0-9;]*[A-Za-z]")


def read_table():
    rows = []
    for line in (HERE / "FAULTS.md").read_text().splitlines():
        m = re.match(r"^\|\s*(W\d\d)\s*\|\s*(\w+)\s*\|\s*([a-z\\|]+)\s*\|\s*([-\d]+)\s*\|", line)
        if m:
            wid, var, exp, bound = m.groups()
            rows.append({"id": wid, "variant": var, "expected": exp.replace("\\", "").split("|"),
                         "bound": None if bound == "-" else float(bound)})
    return rows


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class ServerProc:
    def __init__(self, variant, port, keys, logdir: Path, name="server"):
        self.variant, self.port, self.keys, self.logdir = variant, port, keys, logdir
        self.lines: list[tuple[float, str]] = []
        self.procs = []
        self.name = name

    def start(self, no_trigger=False):
        n = len(self.procs)
        cmd = [VENV_PY, str(HERE / "server.py"), "--variant", self.variant, "--port", str(self.port),
               "--max-life", "900"]
        for k, c in self.keys:
            cmd += ["--key", f"{k}:{c}"]
        if no_trigger:
            cmd.append("--no-trigger")
        err = open(self.logdir / f"{self.name}{n}.stderr", "wb")
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        self.procs.append(p)
        ready = threading.Event()

        def pump():
            with open(self.logdir / f"{self.name}{n}.stdout", "w") as f:
                for raw in p.stdout:
                    line = raw.decode("utf-8", "replace").rstrip("\n")
                    self.lines.append((time.time(), line))
                    f.write(line + "\n")
                    f.flush()
                    if line.startswith("Listening on"):
                        ready.set()
        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(20):
            raise RuntimeError(f"server {self.variant} did not start")
        return p

    def first(self, prefix):
        for t, line in list(self.lines):
            if line.startswith(prefix):
                return t, line
        return None

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.time() + 5
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.wait(max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def canary(tag: str) -> str:
    return tag + secrets.token_hex(15)


def leak_scan(blobs: list[tuple[str, bytes]], keys: list[str]) -> list[str]:
    found = []
    for key in keys:
        head = key.split("\r")[0].split("\n")[0]
        if len(head) >= 8:
            pats = [re.compile(re.escape(head.encode())),
                    re.compile(re.escape(head[:4].encode()) + rb"\*\*\*\*")]
        else:
            k = re.escape(head.encode())
            pats = [re.compile(rb"(?i)(x-api-key|api[-_ ]?key|TRYON_[A-Z_]*KEY)[\"']?\s*[:=]\s*[\"']?" + k + rb"(?![A-Za-z0-9_])"),
                    re.compile(rb"(?i)key[\"']?\s*[:=]\s*[\"']" + k + rb"[\"']")]
        for name, data in blobs:
            for p in pats:
                m = p.search(data)
                if m:
                    found.append(f"{name}: {head[:2]}.. ({'prefix****' if m.group(0).endswith(b'****') else 'value'})")
                    break
    return found


def run_one(row, tree: Path, outroot: Path) -> dict:
    var = row["variant"]
    spec = SPECS[var]
    vdir = outroot / row["id"]
    vdir.mkdir(parents=True, exist_ok=True)
    rep = vdir / "report"
    port = free_port()
    if spec.get("keys") == "short":
        main, other, zero = "json", "v1", canary("cz")
    else:
        main, other, zero = canary("am"), canary("bo"), canary("cz")
    suite_other = other
    if spec.get("keys") == "crlf":
        suite_other = other + "\r\nX-Injected: 1"
    srv = ServerProc(spec.get("server", "correct"), port, [(main, 1000), (other, 1000), (zero, 0)], vdir)
    srv.start()
    url = f"http://127.0.0.1:{port}"
    cmd = [VENV_PY, "-m", "pytest", "contract", "--tryon-base-url", url, "--tryon-api-key", main,
           "--tryon-other-key", suite_other, "--tryon-no-credits-key", zero, "--tryon-allow-burst",
           "--tryon-report-dir", str(rep)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYON_")}
    env["PYTHONUNBUFFERED"] = "1"
    out_f, err_f = open(vdir / "stdout", "wb"), open(vdir / "stderr", "wb")
    t0 = time.time()
    p = subprocess.Popen(cmd, cwd=tree, env=env, stdout=out_f, stderr=err_f, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    fault_t = None
    action_done = False
    restart_at = None
    timed_out = False
    while p.poll() is None:
        time.sleep(0.1)
        now = time.time()
        if spec.get("action") == "kill_restart":
            ev = srv.first("EVENT")
            if not action_done and ev and now >= ev[0] + 12.0:
                srv.procs[-1].kill()
                fault_t = time.time()
                action_done = True
                restart_at = fault_t + 4.0
            if restart_at and now >= restart_at:
                restart_at = None
                srv.procs[-1].wait()
                try:
                    srv.start(no_trigger=True)
                except Exception as e:  # noqa: BLE001
                    print(f"  restart failed: {e}", file=sys.stderr)
        if spec.get("action") == "sigterm" and not action_done:
            ev = srv.first("EVENT")
            if ev and now >= ev[0] + 4.0:
                os.kill(p.pid, signal.SIGTERM)
                fault_t = time.time()
                action_done = True
        if now - t0 > WALL and not timed_out:
            timed_out = True
            try:
                os.killpg(p.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
            break
    p.wait()
    t_exit = time.time()
    # the suite's process group must not outlive it
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    srv.stop()
    out_f.close()
    err_f.close()
    if fault_t is None:
        f = srv.first("FAULT")
        if f:
            fault_t = float(f[1].split()[1])
    rc = p.returncode
    stdout = (vdir / "stdout").read_bytes()
    stderr = (vdir / "stderr").read_bytes()
    verdict = None
    cj = rep / "compliance.json"
    if cj.exists():
        try:
            verdict = json.loads(cj.read_text()).get("verdict")
        except Exception:  # noqa: BLE001
            verdict = "unreadable"
    last = ""
    for blob in (stdout, stderr):
        lines = [ANSI.sub(b"", x).strip() for x in blob.splitlines() if x.strip()]
        if lines:
            cand = lines[-1].decode("utf-8", "replace")
            if "tryon verdict" in cand or not last:
                last = cand
            if "tryon verdict" in cand:
                break
    blobs = [("stdout", stdout), ("stderr", stderr)]
    if rep.exists():
        for f in rep.rglob("*"):
            if f.is_file():
                blobs.append((f"report/{f.relative_to(rep)}", f.read_bytes()))
    for f in tree.rglob("*"):
        try:
            if f.is_file() and f.stat().st_mtime >= t0 - 1:
                blobs.append((f"tree/{f.relative_to(tree)}", f.read_bytes()))
        except OSError:
            pass
    leaks = leak_scan(blobs, [main, other, zero])
    got = "timeout" if timed_out else EXIT_NAME.get(rc, f"exit{rc}")
    notes = []
    ok = got in row["expected"]
    if not ok:
        notes.append("verdict")
    if got in ("pass", "fail", "incomplete"):
        if verdict != got:
            ok = False
            notes.append(f"report={verdict}")
        if not re.search(r"tryon verdict:\s*" + got, last, re.I):
            ok = False
            notes.append("last line")
    if leaks:
        ok = False
        notes.append("LEAK")
    if spec.get("fault") and fault_t is None:
        ok = False
        notes.append("fault never fired")
    f2e = None if fault_t is None else round(t_exit - fault_t, 1)
    if row["bound"] is not None and f2e is not None and f2e > row["bound"]:
        ok = False
        notes.append(f"slow stop >{row['bound']:.0f}s")
    res = {"id": row["id"], "expected": "|".join(row["expected"]), "got": got, "exit": rc,
           "report_verdict": verdict, "last_line": last[-200:], "wall": round(t_exit - t0, 1),
           "fault_to_exit": f2e, "leaks": leaks, "matched": ok, "notes": notes,
           "server_requests": sum(f.read_text(errors="replace").count(" -> ") for f in vdir.glob("server*.stderr"))}
    (vdir / "result.json").write_text(json.dumps(res, indent=1))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    rows = read_table()
    if a.only:
        want = set(a.only.split(","))
        rows = [r for r in rows if r["id"] in want]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    outroot = Path(a.out or HERE / "runs" / stamp)
    outroot.mkdir(parents=True, exist_ok=True)
    tree = outroot / "tree"
    tree.mkdir()
    arch = subprocess.run(["git", "-C", MAIN, "archive", "HEAD"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=arch, check=True)
    head = subprocess.run(["git", "-C", MAIN, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"judge2: {len(rows)} variants against {MAIN} HEAD {head}; logs in {outroot}", flush=True)
    T0 = time.time()
    results = []
    for row in rows:
        r = run_one(row, tree, outroot)
        results.append(r)
        print(f"  {r['id']} expected={r['expected']:<16} got={r['got']:<10} wall={r['wall']:>6}s "
              f"fault->exit={r['fault_to_exit']}  {'OK' if r['matched'] else 'MISMATCH ' + ','.join(r['notes'])}",
              flush=True)
    total = time.time() - T0
    print()
    print(f"| id  | expected          | got        | exit | report     | wall s | fault->exit s | leak | match |")
    print(f"|-----|-------------------|------------|------|------------|--------|---------------|------|-------|")
    for r in results:
        print(f"| {r['id']} | {r['expected']:<17} | {r['got']:<10} | {r['exit']!s:>4} | {str(r['report_verdict']):<10} | "
              f"{r['wall']:>6} | {str(r['fault_to_exit'] if r['fault_to_exit'] is not None else '-'):>13} | "
              f"{'YES' if r['leaks'] else 'no':<4} | {'yes' if r['matched'] else 'NO':<5} |")
    n = sum(r["matched"] for r in results)
    print(f"\nmatched {n}/{len(results)} in {total:.0f} s (HEAD {head})")
    (outroot / "results.json").write_text(json.dumps({"head": head, "total_s": round(total), "results": results}, indent=1))
    return 0 if n == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
