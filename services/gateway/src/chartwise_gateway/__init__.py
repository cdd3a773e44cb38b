"""ChartWise gateway service: the HTTP edge: identity, validation, HTTP to messages and back, live progress."""
