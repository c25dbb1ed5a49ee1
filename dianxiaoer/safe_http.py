"""Outbound HTTP to addresses shop admins type in, kept off our own network (SSRF).

A platform channel's ``outbound_url`` comes from a shop's admin, and the worker POSTs agent
replies to it. Left alone, it could point the worker at its own network: Redis or PostgreSQL
on loopback, a cloud metadata endpoint, an intranet host. Connections opened here resolve the
host once, refuse it unless every address it has is public (``ipaddress.is_global``), and
connect to the address that was checked, so a second DNS answer cannot slip a private
address in between the check and the connect. Proxies from the environment are not used.
``OUTBOUND_ALLOW_PRIVATE`` lifts the check (tests, an adapter running next to the server).
"""
import http.client
import ipaddress
import socket
import urllib.request

from django.conf import settings


class ForbiddenAddress(Exception):
    """The host is, or resolves to, an address that is not public (``address``)."""

    def __init__(self, host: str, address: str):
        super().__init__(f"{host} resolves to {address}, which is not a public address")
        self.address = address


def checked_address(host: str, port: int) -> str:
    """The address to connect to for ``host``; raises ``ForbiddenAddress`` for a private one."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not settings.OUTBOUND_ALLOW_PRIVATE:
        for *_, sockaddr in infos:
            address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
            if not address.is_global:
                raise ForbiddenAddress(host, str(address))
    return infos[0][4][0]


class _CheckedHTTPConnection(http.client.HTTPConnection):
    def connect(self):
        address = checked_address(self.host, self.port)
        self.sock = socket.create_connection((address, self.port), self.timeout, self.source_address)


class _CheckedHTTPSConnection(http.client.HTTPSConnection):
    def connect(self):
        address = checked_address(self.host, self.port)
        sock = socket.create_connection((address, self.port), self.timeout, self.source_address)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _CheckedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_CheckedHTTPConnection, req)


class _CheckedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_CheckedHTTPSConnection, req, context=self._context)


def build_opener(*handlers) -> urllib.request.OpenerDirector:
    """``urllib.request.build_opener`` whose connections reach public addresses only."""
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}), _CheckedHTTPHandler, _CheckedHTTPSHandler, *handlers
    )
