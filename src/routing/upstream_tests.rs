use super::*;
use crate::model::{BackendAddr, Health};

fn backend(port: u16, health: Health) -> Backend {
    Backend {
        addr: BackendAddr::Tcp(([127, 0, 0, 1], port).into()),
        source: format!("b{port}"),
        health,
    }
}

#[test]
fn rotation_alternates_and_covers_all() {
    let up = Upstream::new(
        Proto::Http,
        vec![backend(1, Health::None), backend(2, Health::Healthy)],
        true,
    );
    let firsts: Vec<_> = (0..4)
        .map(|_| up.rotation().next().unwrap().source.clone())
        .collect();
    assert_eq!(firsts, ["b1", "b2", "b1", "b2"]);
    assert_eq!(up.rotation().count(), 2);
}

#[test]
fn unhealthy_and_starting_are_excluded() {
    let up = Upstream::new(
        Proto::Http,
        vec![
            backend(1, Health::Unhealthy),
            backend(2, Health::Starting),
            backend(3, Health::Healthy),
        ],
        true,
    );
    assert_eq!(
        up.rotation().map(|b| b.source.as_str()).collect::<Vec<_>>(),
        ["b3"]
    );
    assert_eq!(up.excluded.len(), 2);
}
