"""Edge: the live mixer over ZeroMQ (server.py and its parts) and the client games use (client.py).
config.py is the one home of the defaults both sides share."""
