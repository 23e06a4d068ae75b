"""The web front: customers' tracking pages and webhooks, other audiences' pages (docs/web.md).

Starlette on uvicorn, in a thread of the process that records for the site (``dispatcher
serve --web`` or a standalone console); it shares the core's database and clock.
"""
