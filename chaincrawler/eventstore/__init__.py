"""chaincrawler.eventstore."""
