//! The ask endpoint of on-demand TLS (`ON_DEMAND_TLS_ASK`): a small HTTP server on loopback that
//! allows every name but those starting with `no.`, and counts its calls per name.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The ask endpoint: `GET /check?domain=<name>` → 200, or 403 for names starting with `no.`.
/// Counts calls per name.
pub struct Ask {
    pub url: String,
    pub calls: Arc<Mutex<HashMap<String, usize>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Ask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Ask {
    pub async fn start() -> Ask {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/check", listener.local_addr().unwrap());
        let calls: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let seen = calls.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tcp.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head);
                    let target = head.split(' ').nth(1).unwrap_or_default();
                    let domain = target
                        .split_once("domain=")
                        .map(|(_, d)| d.to_owned())
                        .unwrap_or_default();
                    *seen.lock().unwrap().entry(domain.clone()).or_default() += 1;
                    let status = if domain.starts_with("no.") {
                        "403 Forbidden"
                    } else {
                        "200 OK"
                    };
                    let answer = format!(
                        "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = tcp.write_all(answer.as_bytes()).await;
                    let _ = tcp.shutdown().await;
                });
            }
        });
        Ask { url, calls, task }
    }

    pub fn calls(&self, name: &str) -> usize {
        self.calls.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}
