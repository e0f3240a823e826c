#!/usr/bin/env python3
"""Blind-judge runner (judge3): run the contract suite in --suite against every server variant.

  python /work/judge3/run.py --suite DIR [--only J03,J07] [--out DIR] [--no-install]

Writes <out>/<id>/ (pytest log, report dir, server log, stats) and a results JSON
(<out>/results.json, and /work/judge3/results_<tag>.json when --out is /work/judge3/out_<tag>).
"""
import argparse, json, os, secrets, signal, socket, string, subprocess, sys, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
VENV_PY = os.path.join(HERE, "venv", "bin", "python")
UV = os.path.join(HERE, "venv", "bin", "uv")
SERVER = os.path.join(HERE, "server.py")
WALL_LIMIT = 480

# id -> (server variant, expected); expected: "pass", "fail", or "fail|incomplete"
VARIANTS = {
    "J01": ("job_cross_account", "fail"),
    "J02": ("charset_refused", "fail"),
    "J03": ("rgba_500", "fail"),
    "J04": ("correct", "pass"),
    "J05": ("key_truncated32", "fail"),
    "J06": ("async_skips_limits", "fail"),
    "J07": ("multipart_bool_truthy", "fail"),
    "J08": ("credits_cache_shared", "fail"),
    "J09": ("res_width_only", "fail"),
    "J10": ("penalty_lockout", "fail|incomplete"),
    "J11": ("result_url_while_running", "fail"),
    "J12": ("alt_a", "pass"),
    "J13": ("quoted_boundary", "fail"),
    "J14": ("charge_on_image_refusal", "fail"),
    "J15": ("key_leak_debug", "fail"),
    "J16": ("limits_person_only", "fail"),
    "J17": ("wrong_method_404", "fail"),
    "J18": ("zero_credit_async", "fail"),
    "J19": ("max_res_offbyone", "fail"),
    "J20": ("octet_stream_part_ignored", "fail"),
    "J21": ("retry_after_float", "fail"),
    "J22": ("multipart_async_stuck_pending", "fail|incomplete"),
    "J23": ("alt_b", "pass"),
    "J24": ("key_case_insensitive", "fail"),
    "J25": ("result_png_passthrough", "fail"),
    "J26": ("json_leading_ws", "fail"),
    "J27": ("ratelimit_global", "fail"),
    "J28": ("multipart_size_unchecked", "fail"),
    "J29": ("url_wins_over_file", "fail"),
    "J30": ("credits_noauth", "fail"),
    "J31": ("async_double_charge", "fail"),
    "J32": ("head_405", "fail"),
    "J33": ("job_id_not_unique", "fail"),
    "J34": ("chunked_body_ignored", "fail"),
    "J35": ("wrong_403_code", "fail"),
    "J36": ("failed_job_no_error", "fail"),
    "J37": ("multipart_garment_mode_unchecked", "fail"),
    "J38": ("location_plural", "fail"),
    "J39": ("progressive_refused", "fail"),
    "J40": ("cmyk_refused", "fail"),
    "J41": ("empty_body_500", "fail"),
    "J42": ("proxy_429_html", "fail"),
    "J43": ("size_limit_inclusive", "fail"),
    "J44": ("async_charge_wrong_account", "fail"),
    "J45": ("unknown_key_403", "fail"),
    "J46": ("err401_text_plain", "fail"),
}

VERDICT = {0: "pass", 1: "fail", 2: "incomplete", 4: "usage"}


def gen_key(n=40):
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def install(suite):
    print(f"installing suite {suite} into {VENV_PY}", flush=True)
    subprocess.run([UV, "pip", "install", "-q", "--python", VENV_PY, "-e", f"{suite}[test]"], check=True)
    out = subprocess.run([VENV_PY, "-c", "import tryon_suite; print(tryon_suite.__file__)"],
                         cwd=suite, capture_output=True, text=True, check=True).stdout.strip()
    print(f"tryon_suite.__file__ = {out}", flush=True)
    if not os.path.realpath(out).startswith(os.path.realpath(suite) + os.sep):
        sys.exit(f"tryon_suite resolves to {out}, not inside {suite}")
    return out


def run_one(jid, variant, expected, suite, out):
    d = os.path.join(out, jid)
    os.makedirs(d, exist_ok=True)
    port = free_port()
    admin = secrets.token_hex(16)
    main_k, other_k, zero_k = gen_key(), gen_key(), gen_key()
    keys = f"main={main_k}:1000,other={other_k}:1000,zero={zero_k}:0"
    env = dict(os.environ, JUDGE_KEYS=keys, JUDGE_ADMIN=admin)
    srv_log = open(os.path.join(d, "server.log"), "w")
    srv = subprocess.Popen([VENV_PY, SERVER, "--port", str(port), "--variant", variant,
                            "--stats-file", os.path.join(d, "stats.json")],
                           env=env, stdout=srv_log, stderr=subprocess.STDOUT, start_new_session=True)
    rec = {"id": jid, "expected": expected}
    try:
        if not wait_port(port):
            rec.update(got="server-did-not-start", exit=None, wall_s=0, requests=None, credits=None)
            return rec
        cmd = [VENV_PY, "-m", "pytest", "contract", "--tryon-base-url", f"http://127.0.0.1:{port}",
               "--tryon-api-key", main_k, "--tryon-other-key", other_k, "--tryon-no-credits-key", zero_k,
               "--tryon-allow-burst", "--tryon-report-dir", os.path.join(d, "report"), "-p", "no:cacheprovider"]
        penv = {k: v for k, v in os.environ.items() if not k.startswith("TRYON_") and k != "PYTHONPATH"}
        t0 = time.time()
        with open(os.path.join(d, "pytest.log"), "w") as log:
            p = subprocess.Popen(cmd, cwd=suite, stdout=log, stderr=subprocess.STDOUT, env=penv,
                                 start_new_session=True)
            try:
                rc = p.wait(timeout=WALL_LIMIT)
                got = VERDICT.get(rc, f"exit{rc}")
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                rc, got = None, "timeout"
        wall = round(time.time() - t0, 1)
        stats = {}
        try:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/__judge/stats", headers={"x-admin-token": admin})
            stats = json.load(urllib.request.urlopen(req, timeout=5))
        except Exception as e:
            stats = {"error": str(e)}
        with open(os.path.join(d, "stats.json"), "w") as f:
            json.dump(stats, f)
        rec.update(got=got, exit=rc, wall_s=wall, requests=stats.get("requests"),
                   credits=stats.get("credits_charged"))
    finally:
        try:
            os.killpg(srv.pid, signal.SIGINT)
            srv.wait(timeout=5)
        except Exception:
            try:
                os.killpg(srv.pid, signal.SIGKILL)
            except Exception:
                pass
        srv_log.close()
    exp = expected.split("|")
    if expected == "pass":
        rec["ok"] = rec["exit"] == 0
    else:
        rec["ok"] = (rec["exit"] == 1) or ("incomplete" in exp and rec["exit"] == 2) or \
                    ("incomplete" in exp and rec["got"] == "timeout")
    return rec


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--out", default=os.path.join(HERE, "out_run"))
    ap.add_argument("--no-install", action="store_true")
    a = ap.parse_args()
    suite = os.path.abspath(a.suite)
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    if not a.no_install:
        install(suite)
    else:
        print("tryon_suite.__file__ =", subprocess.run([VENV_PY, "-c", "import tryon_suite; print(tryon_suite.__file__)"],
              cwd=suite, capture_output=True, text=True).stdout.strip(), flush=True)
    ids = [i.strip() for i in a.only.split(",") if i.strip()] or list(VARIANTS)
    res_path = os.path.join(out, "results.json")
    results = {}
    if os.path.exists(res_path):
        results = {r["id"]: r for r in json.load(open(res_path)).get("runs", [])}
    t_all = time.time()
    for jid in ids:
        variant, expected = VARIANTS[jid]
        rec = run_one(jid, variant, expected, suite, out)
        results[jid] = rec
        print(f"{jid}: expected={rec['expected']:<16} got={rec['got']:<11} exit={rec['exit']} "
              f"wall={rec['wall_s']}s requests={rec['requests']} credits={rec['credits']} "
              f"{'OK' if rec['ok'] else 'MISS'}", flush=True)
        runs = [results[k] for k in sorted(results)]
        faults = [r for r in runs if r["expected"] != "pass"]
        corrects = [r for r in runs if r["expected"] == "pass"]
        summary = {"suite": suite, "faults_detected": sum(r["ok"] for r in faults), "faults": len(faults),
                   "correct_passing": sum(r["ok"] for r in corrects), "correct": len(corrects)}
        doc = {"summary": summary, "runs": runs}
        with open(res_path, "w") as f:
            json.dump(doc, f, indent=1)
        base = os.path.basename(out.rstrip("/"))
        if base.startswith("out_"):
            with open(os.path.join(HERE, f"results_{base[4:]}.json"), "w") as f:
                json.dump(doc, f, indent=1)
    print(json.dumps(summary), f"total {round(time.time() - t_all)}s", flush=True)


if __name__ == "__main__":
    main()
