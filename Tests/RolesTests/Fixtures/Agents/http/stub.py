# A scripted HTTP server: prints its port, then answers each POST with the next scripted
# response (the last one repeats) and appends the request (path, headers, body, time) to a file.
# Usage: python3 stub.py RESPONSES.json REQUESTS.jsonl
import http.server
import json
import os
import sys
import time

responses = json.load(open(sys.argv[1]))
record = sys.argv[2]
here = os.path.dirname(os.path.abspath(sys.argv[1]))
served = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8", "replace")
        with open(record, "a") as f:
            f.write(json.dumps({"path": self.path, "time": time.time(), "body": body,
                                "headers": {k.lower(): v for k, v in self.headers.items()}}) + "\n")
        reply = responses[min(served[0], len(responses) - 1)]
        served[0] += 1
        time.sleep(reply.get("delay", 0))
        data = open(os.path.join(here, reply["body_file"]), "rb").read() if "body_file" in reply else reply.get("body", "").encode()
        self.send_response(reply["status"])
        for name, value in reply.get("headers", {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except BrokenPipeError:
            pass

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
