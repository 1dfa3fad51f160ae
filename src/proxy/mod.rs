//! The data plane: listeners, the proxy service, header rewriting and forwarding.
