"""Top layer: end-to-end flows composed of the stages below (the README's demo)."""
