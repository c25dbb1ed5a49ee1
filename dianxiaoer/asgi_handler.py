"""Django's HTTP handler for daphne, serving each request in one thread hop.

Django's ``ASGIHandler`` runs the middleware chain in async mode: a sync-only middleware
costs a hop into a thread, the async ``_get_response_async`` at the bottom a hop back to the
event loop, and the sync view another hop out; a middleware that can do both runs each of
its methods in a hop of its own. Every view and middleware of this project is synchronous,
so this handler loads the chain in sync mode and runs the whole of it, view included, in one
``sync_to_async`` call: Django's WSGI path, inside the ASGI request. Reading the body,
signals and sending the response stay Django's own.
"""
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler


class SyncChainASGIHandler(ASGIHandler):
    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        # thread_sensitive: the request's own thread (ASGIHandler opens a ThreadSensitiveContext
        # per request), where the request_started/finished signals manage its DB connection.
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
