"""The booth's encryption in headless chromium (web/static/js/booth/, docs/ballot-encryption.md): how long a voter's
device takes to encrypt, prove and sign a 5-option ballot, and to check one (the server's echo). Target: < 300 ms
to encrypt and prove. A benchmark that prints, not a test.

    python -m bench.booth [--runs 20] [--throttle 4]

``--throttle N`` slows chromium's CPU N times (DevTools' CPU throttling), a rough stand-in for a cheap phone.

Debian's chromium through Playwright (never a downloaded browser). The modules are served from web/static by a
small local server that sends the site's Content-Security-Policy, so they load exactly as on the site (relative
module imports, no import map); the page itself has no script: the benchmark imports the modules into it.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from playwright.sync_api import sync_playwright

from engine.voting.encryption import trustees as T
from engine.voting.encryption.ballots import make_election
from web.site import CONTENT_SECURITY_POLICY

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
PAGE = b"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>booth bench</title></head><body></body></html>"
OPTIONS = ["park", "gym", "library", "pool", "garden"]

MEASURE = """async ({ cases, runs }) => {
  const names = ['ballot', 'group'];
  const b = Object.assign({}, ...await Promise.all(names.map((n) => import(`/static/js/booth/${n}.js`))));
  const out = {};
  for (const { name, descriptor, choice } of cases) {
    const e = b.electionFromJson(descriptor);
    b.verifyBallot(e, b.encryptBallot(e, b.randomScalar(), choice).ballot);  // warm-up: JIT, base-point tables
    const encrypt = [], verify = [];
    for (let i = 0; i < runs; i++) {
      let start = performance.now();
      const { ballot } = b.encryptBallot(e, b.randomScalar(), choice);
      encrypt.push(performance.now() - start);
      start = performance.now();
      b.verifyBallot(e, ballot);
      verify.push(performance.now() - start);
    }
    out[name] = { encrypt, verify };
  }
  return out;
}"""


class Handler(SimpleHTTPRequestHandler):
    """web/static under /static/, an empty page at /, every answer with the site's CSP."""

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        super().end_headers()

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)
            return
        if not self.path.startswith("/static/"):
            self.send_error(404)
            return
        self.path = self.path.removeprefix("/static")
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


def cases() -> list[dict[str, object]]:
    vote = "bench-booth"
    dealt = [T.deal(vote, i, 2, 3) for i in range(1, 4)]
    key = T.election_key([d for _, d, _ in dealt])
    keys = [T.key_share(vote, j, [s[j] for _, _, s in dealt])[1].key for j in range(1, 4)]
    plurality = make_election(vote, key, "plurality", OPTIONS, 2, keys)
    approval = make_election(vote, key, "approval", OPTIONS, 2, keys)
    yna = make_election(vote, key, "yes_no_abstain", [], 2, keys)
    return [
        {"name": "plurality, 5 options (6 slots)", "descriptor": plurality.descriptor(), "choice": "library"},
        {"name": "approval, 5 options (6 slots)", "descriptor": approval.descriptor(), "choice": ["park", "pool"]},
        {"name": "yes/no/abstain", "descriptor": yna.descriptor(), "choice": "yes"},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="ballots per method (after one warm-up)")
    parser.add_argument("--throttle", type=float, default=1, help="slow the CPU down N times (a cheap phone: 4-6)")
    args = parser.parse_args()
    executable = shutil.which("chromium")
    if executable is None:
        raise SystemExit("chromium is not installed: run scripts/ensure-chromium")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(STATIC)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{server.server_port}/")
            if args.throttle != 1:
                page.context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": args.throttle})
            results = page.evaluate(MEASURE, {"cases": cases(), "runs": args.runs})
            slowed = f", CPU throttled {args.throttle:g}×" if args.throttle != 1 else ""
            print(f"headless chromium {browser.version}{slowed}, {args.runs} ballots per method, milliseconds per ballot")
            print(f"{'method':34} {'encrypt+prove+sign':>28} {'verify (echo check)':>28}")
            for name, timing in results.items():
                cells = [f"median {statistics.median(ms):6.1f}  p90 {sorted(ms)[int(0.9 * (len(ms) - 1))]:6.1f}"
                         for ms in (timing["encrypt"], timing["verify"])]
                print(f"{name:34} {cells[0]:>28} {cells[1]:>28}")
            print("target: < 300 ms to encrypt and prove a 5-option ballot")
            browser.close()
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
