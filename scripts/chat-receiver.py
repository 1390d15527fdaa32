"""A stand-in for Slack's Web API and Teams webhooks for `make run` (scripts/run-local.sh).

Answers as they do (Slack: {"ok": true, "channel", "ts"}; Teams: "1"), prints one line per
message, and appends each body to .local/chat.log. Usage: chat-receiver.py PORT
"""

import itertools
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counter = itertools.count(1)


def texts(v):
    """Every "text" string of a Block Kit or Adaptive Card body, in order."""
    if isinstance(v, dict):
        for k, x in v.items():
            if k == "text" and isinstance(x, str):
                yield x
            else:
                yield from texts(x)
    elif isinstance(v, list):
        for x in v:
            yield from texts(x)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"null")
        with open(".local/chat.log", "a", encoding="utf-8") as log:
            log.write(json.dumps({"path": self.path, "body": body}, ensure_ascii=False) + "\n")
        if self.path.startswith("/teams/"):
            where, words, answer = f"teams {self.path[7:]}", " | ".join(texts(body)), "1"
        else:
            channel = body.get("channel", "")
            ts = body.get("ts") or f"{int(time.time())}.{next(counter):06d}"
            cid = channel if not channel.startswith("#") else "C" + channel[1:].upper().replace("-", "")
            where, words = f"slack {channel} {self.path.rsplit('/', 1)[-1]}", body.get("text", "")
            answer = json.dumps({"ok": True, "channel": cid, "ts": ts})
        print(f"chat: {where}: {words}", flush=True)
        self.send_response(200)
        self.send_header("Content-Type", "application/json" if answer != "1" else "text/plain")
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
