"""Transports: serve models' committed state over HTTP, a WebSocket stream and a dashboard.

- ``create_app(source, ApiOptions(...))``: the ASGI app (FastAPI), mountable in yours;
- ``StateSource``: the one interface it reads through; ``CrawlerSource`` serves a
  crawler running in this process;
- ``serve_crawler(crawler)``: uvicorn beside the crawler, in its event loop;
- ``chaincrawler.client``: the Python client (sync and async, stream, live queries).

Import the submodules (``chaincrawler.transports.api`` ...): this package itself stays
light so the CLI does not load the web stack unless it serves.
"""
