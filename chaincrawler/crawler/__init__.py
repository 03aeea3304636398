"""Following a node: the node client, ZMQ subscriber, block source, prevouts and the Crawler."""
