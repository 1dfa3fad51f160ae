use super::*;
use crate::model::Health;

fn backend(port: u16) -> Backend {
    Backend {
        addr: BackendAddr::Tcp(([127, 0, 0, 1], port).into()),
        source: format!("b{port}"),
        health: Health::None,
    }
}

#[test]
fn down_backends_go_last_and_come_back() {
    let h = PassiveHealth::default();
    let all = [backend(1), backend(2), backend(3)];
    h.mark_down(&all[0].addr);
    let order: Vec<_> = h
        .order(all.iter())
        .iter()
        .map(|b| b.source.clone())
        .collect();
    assert_eq!(order, ["b2", "b3", "b1"]);
    h.mark_up(&all[0].addr);
    assert!(!h.is_down(&all[0].addr));
    let order: Vec<_> = h
        .order(all.iter())
        .iter()
        .map(|b| b.source.clone())
        .collect();
    assert_eq!(order, ["b1", "b2", "b3"]);
}
