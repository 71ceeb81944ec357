"""`make loadtest`: the hot public endpoints under concurrent load, on loopback, for a bounded time."""
