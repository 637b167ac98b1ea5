"""Measure `robots build --from-warc` at scale: peak RSS and wall time (issue 15, item 2).

The inputs are robots.txt WARC files generated under a scratch folder the way Common Crawl ships
its `robotstxt` subset (request/response pairs, one gzip member per record). They are **synthetic
in their host names only**: the bodies are the real robots.txt files of ../shared/data/robots_txt
(texting_robots, the-great-gpt-firewall and the 2017 top-1M sample: ~1,700 bodies, mean ~6.5 KB),
repeated under made-up host names (`h0000042.<real domain>`), so a 2M-host build holds 2M entries
but only ~1,700 distinct bodies. Every 10th host answers `http://` with a 301 to
`https://www.<host>/robots.txt` whose capture is written to the *next* file (a cross-file redirect
the build must resolve); every 20th host answers 404. Nothing generated is committed.

    python scripts/bench_snapshot_build.py generate --hosts 50000 --files 10 --dir /tmp/ccbench/50k
    python scripts/bench_snapshot_build.py build --dir /tmp/ccbench/50k [--impl before|after] [--workers N]

`build` runs the CLI (`consentcrawl robots build --from-warc`) in a child process and reports its
wall time, its peak RSS (ru_maxrss) and, with --workers, the peak of the summed RSS of the whole
process tree (sampled every 0.2 s). `--impl before` runs a saved copy of the all-in-memory
builder: `git show <rev>:pipeline/optout/build.py > DIR/build.py`, the same for commands.py,
then --before-dir DIR (b9c7bd6 is the last all-in-memory revision).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
import zlib
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "robots_txt"
BASE = 1_716_200_000  # 2024-05-20T10:13:20Z


def real_bodies() -> list[tuple[str, bytes]]:
    """(domain, body) of every real robots.txt in ../shared/data/robots_txt, in a fixed order."""
    out: list[tuple[str, bytes]] = []
    for f in sorted((SHARED / "texting_robots_testdata").glob("*.robots.txt")):
        out.append((f.name.removesuffix(".robots.txt") + ".com", f.read_bytes()))
    for name in ("gpt_firewall_2025_sample.jsonl", "top1m_2017_sample.jsonl"):
        for line in (SHARED / name).read_text("utf-8").split("\n"):
            if not line.strip():
                continue
            d = json.loads(line)
            out.append((d["domain"], d["body"].encode("utf-8", "surrogatepass")))
    return out


def _date(t: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _member(rtype: str, url: str, date: str, block: bytes, ctype: str) -> bytes:
    head = (f"WARC/1.0\r\nWARC-Type: {rtype}\r\nWARC-Date: {date}\r\n"
            f"WARC-Record-ID: <urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, rtype + url + date)}>\r\n"
            f"WARC-Target-URI: {url}\r\nContent-Type: {ctype}\r\nContent-Length: {len(block)}\r\n\r\n").encode()
    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    return c.compress(head + block + b"\r\n\r\n") + c.flush()


def _pair(url: str, t: int, status: int, body: bytes, extra: str = "") -> bytes:
    host = url.split("/")[2]
    date = _date(t)
    req = f"GET /robots.txt HTTP/1.1\r\nHost: {host}\r\nUser-Agent: CCBot/2.0\r\n\r\n".encode()
    reason = {200: "OK", 301: "Moved Permanently", 404: "Not Found"}[status]
    http = f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n{extra}\r\n".encode() + body
    return (_member("request", url, date, req, "application/http; msgtype=request")
            + _member("response", url, date, http, "application/http; msgtype=response"))


def _write_file(job: tuple[str, int, int, int, int]) -> int:
    out, k, files, hosts, _ = job
    bodies = real_bodies()
    parts: list[bytes] = []
    size = 0
    with open(out, "wb") as fh:
        for i in range(hosts):
            domain, body = bodies[i % len(bodies)]
            host = f"h{i:07d}.{domain}"
            f = (i // 10) % files  # runs of ten hosts per file
            if i % 10 == 0:  # the redirect in this host's file, its target in the next file
                if f == k:
                    parts.append(_pair(f"http://{host}/robots.txt", BASE + i, 301, b"<html>Moved</html>",
                                       f"Location: https://www.{host}/robots.txt\r\n"))
                if (f + 1) % files == k:
                    parts.append(_pair(f"https://www.{host}/robots.txt", BASE + i + 5, 200, body))
            elif f == k:
                status = 404 if i % 20 == 5 else 200
                parts.append(_pair(f"https://{host}/robots.txt", BASE + i, status,
                                   b"<html>Not found</html>" if status == 404 else body))
            if len(parts) >= 512:
                data = b"".join(parts)
                fh.write(data)
                size += len(data)
                parts.clear()
        data = b"".join(parts)
        fh.write(data)
        size += len(data)
    return size


def generate(hosts: int, files: int, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(str(folder / f"robotstxt-{k:05d}.warc.gz"), k, files, hosts, 0) for k in range(files)]
    t = time.perf_counter()
    with Pool(min(2, files)) as pool:
        sizes = pool.map(_write_file, jobs)
    print(f"wrote {files} files, {sum(sizes) / 2**20:.0f} MiB, {hosts} hosts in {time.perf_counter() - t:.0f} s "
          f"to {folder}")


BEFORE = """
import sys, importlib.util
for name, path in (("build", sys.argv[1] + "/build.py"), ("commands", sys.argv[1] + "/commands.py")):
    spec = importlib.util.spec_from_file_location("pipeline.optout." + name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["pipeline.optout." + name] = mod
    spec.loader.exec_module(mod)
from pipeline.cli import main
sys.exit(main(sys.argv[2:]))
"""


def run_build(folder: Path, impl: str, workers: int, before_dir: str, out: Path, extra: list[str]) -> dict:
    import psutil

    warcs = sorted(str(p) for p in folder.glob("*.warc.gz"))
    argv = ["robots", "build", "--from-warc", *warcs, "--out", str(out), *extra]
    if workers > 1:
        argv += ["--workers", str(workers)]
    if impl == "before":
        cmd = [sys.executable, "-c", BEFORE, before_dir, *argv]
    else:
        cmd = [sys.executable, "-c", "import sys; from pipeline.cli import main; sys.exit(main(sys.argv[1:]))",
               *argv]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    root = psutil.Process(proc.pid)
    tree_peak = 0
    while proc.poll() is None:
        try:
            total = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
            tree_peak = max(tree_peak, total)
        except psutil.Error:
            pass
        time.sleep(0.2)
    wall = time.perf_counter() - t
    output = proc.stdout.read() if proc.stdout else ""
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # the largest child so far
    if proc.returncode != 0:
        print(output)
        raise SystemExit(f"build failed with exit {proc.returncode}")
    entries = next((line for line in output.splitlines() if line.startswith("wrote ")), "")
    return {"impl": impl, "workers": workers, "wall_s": round(wall, 1), "peak_rss_mib": round(peak / 2**20),
            "tree_peak_rss_mib": round(tree_peak / 2**20), "result": entries,
            "notes": [line.strip() for line in output.splitlines() if "note " in line]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--hosts", type=int, required=True)
    g.add_argument("--files", type=int, default=10)
    g.add_argument("--dir", type=Path, required=True)
    b = sub.add_parser("build")
    b.add_argument("--dir", type=Path, required=True)
    b.add_argument("--impl", choices=["before", "after"], default="after")
    b.add_argument("--workers", type=int, default=1)
    b.add_argument("--before-dir", default=None,
                   help="folder holding the old pipeline/optout/build.py and commands.py")
    b.add_argument("--out", type=Path, default=None)
    b.add_argument("extra", nargs="*", help="more CLI options, after --")
    args = ap.parse_args()
    if args.cmd == "generate":
        generate(args.hosts, args.files, args.dir)
        return
    out = args.out or args.dir.parent / f"{args.dir.name}-{args.impl}-w{args.workers}.parquet"
    res = run_build(args.dir, args.impl, args.workers, args.before_dir, out, args.extra)
    res["out_bytes"] = os.path.getsize(out)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
