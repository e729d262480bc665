"""The local daemon: streams frames over ZeroMQ + MessagePack and runs distillation jobs (docs/protocol.md)."""
