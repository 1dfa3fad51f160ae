//! Wiring: channels, tasks under one cancellation token, graceful drain.
