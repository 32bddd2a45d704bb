#!/usr/bin/python3
"""Turn one run directory into a single TSV summary line (printed to stdout).

Columns: server:case tlsconn rate_offered count limit children wall_s ok failed retrans
         reg_per_s server_cpu_pct server_reg_per_cpu_s sipp_cpu_pct stunnel_cpu_pct
         cpuK_busy_pct cpuC_busy_pct rtt_avg_ms rss_growth_bytes_per_reg sipp_rc run_dir
server_cpu_pct is the sum over all the server's processes and threads (100 = one full core).
server_reg_per_cpu_s = successful registrations per server CPU-second (efficiency).
rss_growth_bytes_per_reg = growth of the server's resident memory during the run / ok.
cpuK/cpuC busy = whole-CPU busy % (incl. softirq and anything else) of the pinned CPUs.
"""
import os, re, sys

(run, case, tlsconn, rate, count, limit, children, t0, t1, k0, k1, s0, s1, src,
 kcpu, ccpu) = sys.argv[1:17]
HZ = os.sysconf("SC_CLK_TCK")
wall = float(t1) - float(t0)

def last_row(path):
    with open(path) as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    hdr = lines[0].split(";")
    row = lines[-1].split(";")
    return dict(zip(hdr, row))

ok = failed = retrans = 0
rtt = float("nan")
try:
    r = last_row(os.path.join(run, "sipp_stat.csv"))
    ok = int(r.get("SuccessfulCall(C)", 0))
    failed = int(r.get("FailedCall(C)", 0))
    retrans = int(r.get("Retransmissions(C)", 0))
    # ResponseTime1(C) is "HH:MM:SS:uuuuuu" or "HH:MM:SS:mmm"
    v = r.get("ResponseTime1(C)", "")
    m = re.match(r"(\d+):(\d+):(\d+):(\d+)", v)
    if m:
        h, mi, s, frac = m.groups()
        rtt = (int(h) * 3600 + int(mi) * 60 + int(s)) * 1000 + int(frac) / (10 ** (len(frac) - 3))
except (OSError, IndexError, ValueError):
    pass

def busy(cpus):
    want = set()
    for part in cpus.split(","):
        if "-" in part:
            a, b = part.split("-"); want.update(range(int(a), int(b) + 1))
        else:
            want.add(int(part))
    def read(p):
        d = {}
        for line in open(p):
            f = line.split()
            d[int(f[0][3:])] = list(map(int, f[1:]))
        return d
    b, a = read(os.path.join(run, "procstat.before")), read(os.path.join(run, "procstat.after"))
    tot = idle = 0
    for c in want:
        db = [x - y for x, y in zip(a[c], b[c])]
        tot += sum(db[:8]); idle += db[3] + db[4]
    return 100.0 * (tot - idle) / tot if tot else float("nan")

kam_cpu = (int(k1) - int(k0)) / HZ
stun_cpu = (int(s1) - int(s0)) / HZ
sipp_cpu = float("nan")
try:
    u, s, e = open(os.path.join(run, "sipp.time")).read().split()[-3:]
    sipp_cpu = float(u) + float(s)
except (OSError, ValueError):
    pass

usrloc = "nan"
try:
    m0, m1 = map(int, open(os.path.join(run, "rss_kb")).read().split())
    if ok:
        usrloc = f"{(m1 - m0) * 1024 / ok:.0f}"
except (OSError, ValueError):
    pass

reg_s = ok / wall if wall > 0 else 0
fields = [case, tlsconn, rate, count, limit, children, f"{wall:.1f}", ok, failed, retrans,
          f"{reg_s:.0f}", f"{100 * kam_cpu / wall:.0f}",
          f"{ok / kam_cpu:.0f}" if kam_cpu > 0 else "nan",
          f"{100 * sipp_cpu / wall:.0f}", f"{100 * stun_cpu / wall:.0f}",
          f"{busy(kcpu):.0f}", f"{busy(ccpu):.0f}", f"{rtt:.2f}", usrloc, src, run]
print("\t".join(map(str, fields)))
