"""Scale-out over NATS JetStream (`--workers N`): ingest worker processes publish the venue's raw
frames to a stream; the engine's process consumes them. See docs/scaleout.md."""
