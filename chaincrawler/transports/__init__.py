"""chaincrawler.transports."""
