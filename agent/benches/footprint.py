#!/usr/bin/env python3
"""Footprint of lindung-agent serve (issue 9): cold start to the first page and idle
resident memory, seven runs.  python3 agent/benches/footprint.py target/dist-agent/lindung-agent"""
import subprocess, time, os, tempfile, socket, http.client, sys, statistics
agent = sys.argv[1]
d = tempfile.mkdtemp()
env = dict(os.environ, LINDUNG_PASSPHRASE="sandi-uji-lapangan", LINDUNG_DATA_DIR=d)
subprocess.run([agent, "init", "--officer", "Rina Marlina"], env=env, check=True, capture_output=True)
def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
starts, rss = [], []
for run in range(7):
    port = free_port()
    t0 = time.perf_counter()
    p = subprocess.Popen([agent, "serve", "--listen", f"127.0.0.1:{port}"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1); c.request("GET", "/"); r = c.getresponse(); r.read()
            if r.status in (200, 302, 303): break
        except OSError:
            time.sleep(0.0005)
    starts.append((time.perf_counter() - t0) * 1000)
    time.sleep(3)
    with open(f"/proc/{p.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"): rss.append(int(line.split()[1]) / 1024)
    p.terminate(); p.wait()
print({"cold_start_to_first_page_ms_median": round(statistics.median(starts), 1), "min": round(min(starts),1), "max": round(max(starts),1),
       "idle_rss_mb_median": round(statistics.median(rss), 1), "rss_max": round(max(rss),1), "runs": len(starts)})
