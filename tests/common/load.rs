//! Steady background load for "nothing drops while routes change" tests: a few clients send the
//! same `GET` in a loop until stopped, counting 200s (within `WAIT`) and everything else.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use http::{Request, StatusCode};
use tokio::task::JoinHandle;

use super::{WAIT, client, empty_body};

/// Clients looping over one request; [`Load::stop`] ends them and reports the counts.
pub struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    tasks: Vec<JoinHandle<()>>,
}

/// What a [`Load`] saw.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    /// Answered 200 within `WAIT`.
    pub ok: usize,
    /// Anything else: another status, an error, a timeout.
    pub failed: usize,
}

impl Load {
    /// Starts `clients` loops of `GET url` with `Host: host`, each on its own pooled client.
    pub fn start(clients: usize, url: String, host: &str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks = (0..clients)
            .map(|_| {
                let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
                let (url, host) = (url.clone(), host.to_owned());
                tokio::spawn(async move {
                    let c = client();
                    while !stop.load(Ordering::Relaxed) {
                        let req = Request::get(&url)
                            .header("host", &host)
                            .body(empty_body())
                            .unwrap();
                        let good = matches!(
                            tokio::time::timeout(WAIT, c.request(req)).await,
                            Ok(Ok(r)) if r.status() == StatusCode::OK
                        );
                        (if good { &ok } else { &failed }).fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        Load {
            stop,
            ok,
            failed,
            tasks,
        }
    }

    /// Stops every loop, waits for them, and returns what they counted.
    pub async fn stop(self) -> Counts {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
        Counts {
            ok: self.ok.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}
