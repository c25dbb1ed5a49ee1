"""A platform adapter on loopback for the outbound-delivery tests (unit and browser): the
tests' settings let outbound URLs reach loopback."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakePlatform:
    """A tiny HTTP server in a thread that records every delivery and answers ``status``."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        self.answers: list[int] = []  # statuses for the next requests, before ``status``
        self.location = ""
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                platform.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(platform.answers.pop(0) if platform.answers else platform.status)
                if platform.location:
                    self.send_header("Location", platform.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                platform.requests.append({"path": self.path, "headers": dict(self.headers), "body": b"", "method": "GET"})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/dxe/outbound"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
