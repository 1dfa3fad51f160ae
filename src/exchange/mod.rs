//! What one request exchange carries between the rooms of the data plane: the body type every
//! protocol streams, the connection and request facts a forwarder needs, the error that
//! becomes an answer, and the hop-by-hop rule. `server`, `service` and `upstream` all speak
//! these; none of them owns them.

mod body;
mod completion;
mod error;
pub(crate) mod hop;
mod meta;

pub use body::{BoxError, ProxyBody, empty, full};
pub(crate) use body::{ClientBody, ClientBodyError, LimitExceeded, limited, with_guard};
pub(crate) use completion::{OnComplete, on_complete};
pub(crate) use error::Fault;
pub use error::ProxyError;
pub use hop::CodingError;
pub(crate) use meta::is_idempotent;
pub use meta::{CertRefusal, ClientCert, ConnInfo, Proxied, RequestMeta, Scheme, TlsConn};
