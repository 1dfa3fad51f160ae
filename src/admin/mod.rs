//! Admin listener: health, status and metrics (loopback by default).
