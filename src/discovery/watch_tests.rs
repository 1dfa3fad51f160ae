use super::*;

fn ev(id: &str, turn: Turn) -> EngineEvent {
    EngineEvent {
        container: Some(id.to_owned()),
        turn,
        service: false,
    }
}

#[test]
fn a_batch_keeps_each_containers_last_turn() {
    let mut dirty = Dirty::default();
    dirty.add(ev("a", Turn::Stopping));
    dirty.add(ev("b", Turn::Stopping));
    dirty.add(ev("b", Turn::Other));
    // `docker restart`: kill, die, stop, start in one batch — back in rotation.
    dirty.add(ev("a", Turn::Started));
    assert!(dirty.started.contains("a") && !dirty.stopping.contains("a"));
    assert!(dirty.stopping.contains("b"));
    assert!(dirty.touches("a") && dirty.touches("b"));
}

#[test]
fn a_stopping_container_leaves_rotation_until_it_starts_again() {
    let mut cache = Cache::new(None);
    let mut stop = Dirty::default();
    stop.add(ev("a", Turn::Stopping));
    cache.turn(&stop);
    assert!(cache.stopping.contains("a"));
    let mut start = Dirty::default();
    start.add(ev("a", Turn::Started));
    cache.turn(&start);
    assert!(cache.stopping.is_empty());
}
