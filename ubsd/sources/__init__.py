"""Source adapters: public formats and web logs mapped into the event contract."""
